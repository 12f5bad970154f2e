"""Each method's colour, line style and place in legends and tables, from registry metadata.

Methods keep one colour, line style and position across all figures and
tables: ``method_order`` and ``method_style`` are the single place that
decides them, from what the registry says a method is
(``sparsecomp.methods.registry.method_info``: ``family`` and ``sae_type``),
never from its name.

* Base methods, in the canonical order ``BASE_METHODS``, each get their own
  colour: the first ten those of matplotlib's qualitative ``tab10`` map, the
  rest (dictionary learners of the scaling study) dark colours of their own;
  all with circle markers, which no derived method uses.
* A method built on an SAE (a family of ``DERIVED_SLOTS``, with an
  ``sae_type``) reuses the colour of that SAE's own method (family ``sae``,
  same ``sae_type``, a base method) and takes a slot, i.e. a line style and
  marker, by its family: a family's n-th method registered for one SAE type
  takes the family's n-th slot. These come after the base methods, grouped
  by SAE type (in the order of the SAEs' own methods), by slot within.
* Any other name (a notebook's method, one registered without such metadata,
  or a name in old rows that nothing registers) comes last, alphabetically,
  with a solid line and a (colour, marker) pair of ``OTHER_STYLES`` (the
  ``Dark2`` colours times markers no base or derived method uses): a
  registered one by its place among the registered others, A-Z, so no two
  registered methods share colour and marker; an unregistered one by a CRC32
  of its name (stable across runs and figures).

Reference values are drawn in the method's colour as thin dashed lines with
``x`` markers (``REFERENCE_STYLE``).
"""

from __future__ import annotations

import zlib

from matplotlib import colormaps

from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import family_members, method_info, registered_methods

# New names go at the end: a method's colour is fixed by its index here.
BASE_METHODS = (
    "fista_oracle", "dl_fista", "softplus_adam", "lista", "linear_probe",
    "sae_relu", "sae_topk", "sae_jumprelu", "sae_MP",
    "dl_fista_data", "dl_fista_resample", "dl_online", "itkrm", "sae_topk_auxk",
    "sae_batchtopk", "dl_online_ws",
)
# Colours of base methods past tab10's ten, dark so as not to be read as tab10 shades.
_EXTRA_COLORS = ("#000000", "#393b79", "#8c6d31", "#7b4173", "#637939", "#843c39")
# Per family of methods derived from an SAE: the slots of its 1st, 2nd, ...
# method registered for one SAE type (the names are today's, for orientation).
DERIVED_SLOTS = {
    "fista_on_sae": (0, 2, 3, 4),  # fista+, frozen_, renormed_, oracle_norms_
    "refined": (1,),  # refined_
    "support_lstsq": (5,),  # support_lstsq_
    "warmstart_encoder": (6, 7),  # warm_, cold_
    "warmstart_decoder": (8, 9),  # warm_dl_, cold_dl_
}
# (linestyle, marker) of each slot.
_SLOT_STYLES = (
    ((0, (5, 2)), "s"), (":", "^"), ("-.", "D"), ((0, (1, 1)), "v"),
    ((0, (3, 1, 1, 1, 1, 1)), "P"), ((0, (6, 2, 1, 2)), "X"), ((0, (4, 1)), "<"),
    ((0, (2, 2)), ">"), ((0, (8, 2)), "p"), ((0, (1, 2)), "h"),
)
# Markers of the methods that are neither base nor derived (none of the above).
_OTHER_MARKERS = ("d", "*", "H", "8", "1", "2", "3", "4")
REFERENCE_STYLE = {"linestyle": (0, (2, 2)), "linewidth": 1.0, "marker": "x", "alpha": 0.8}


def derived_slot(name: str) -> tuple[str, int] | None:
    """``(the SAE's own method, slot)`` for a method derived from an SAE, else ``None``.

    ``None`` also for a name nothing registers, a family without slots, an
    SAE type whose own method is not a base method, and a family's method
    past its slots.
    """
    try:
        info = method_info(name)
    except ConfigError:
        return None
    slots = DERIVED_SLOTS.get(info.family)
    if slots is None or info.sae_type is None:
        return None
    own = [sae for sae in family_members("sae", info.sae_type) if sae in BASE_METHODS]
    index = family_members(info.family, info.sae_type).index(name)
    if not own or index >= len(slots):
        return None
    return own[0], slots[index]


def method_sort_key(name: str) -> tuple:
    """Sort key giving the canonical order: base, derived by SAE type, others A-Z."""
    if name in BASE_METHODS:
        return (0, BASE_METHODS.index(name), 0, "")
    derived = derived_slot(name)
    if derived is not None:
        sae, slot = derived
        return (1, BASE_METHODS.index(sae), slot, "")
    return (2, 0, 0, name)


def method_order(names) -> list[str]:
    """The distinct ``names`` in canonical order (see ``method_sort_key``)."""
    return sorted(set(names), key=method_sort_key)


def method_style(name: str) -> dict:
    """Matplotlib line keywords (``color``, ``linestyle``, ``marker``) for a method."""
    tab10 = colormaps["tab10"].colors
    if name in BASE_METHODS:
        index = BASE_METHODS.index(name)
        if index < len(tab10):
            return {"color": tab10[index], "linestyle": "-", "marker": "o"}
        return {"color": _EXTRA_COLORS[index - len(tab10)], "linestyle": "-", "marker": "o"}
    derived = derived_slot(name)
    if derived is not None:
        sae, slot = derived
        linestyle, marker = _SLOT_STYLES[slot]
        return {"color": method_style(sae)["color"], "linestyle": linestyle, "marker": marker}
    colour, marker = other_style(name)
    return {"color": colour, "linestyle": "-", "marker": marker}


def other_styles() -> list[tuple]:
    """The ``(colour, marker)`` pairs of other methods: Dark2's 8 colours x 8 markers."""
    dark2 = colormaps["Dark2"].colors
    return [(dark2[i % len(dark2)], _OTHER_MARKERS[i // len(dark2)])
            for i in range(len(dark2) * len(_OTHER_MARKERS))]


def other_style(name: str) -> tuple:
    """``(colour, marker)`` of a method neither base nor derived (see the module doc)."""
    pairs = other_styles()
    others = [m for m in registered_methods()
              if m not in BASE_METHODS and derived_slot(m) is None]
    index = others.index(name) if name in others else zlib.crc32(name.encode())
    return pairs[index % len(pairs)]
