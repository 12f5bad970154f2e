"""``python -m sparsecomp.report WORKDIR ...``: see ``sparsecomp.report.cli``."""

import sys

from sparsecomp.report.cli import main

sys.exit(main())
