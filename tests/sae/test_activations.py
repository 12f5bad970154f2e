"""SAE activations: TopK's threshold, JumpReLU's and the step's custom gradients."""

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.sae import activations


def test_kth_largest_matches_lax_top_k():
    x = jax.random.normal(jax.random.key(0), (5, 40))
    for k in (1, 3, 40):
        expected = jax.lax.top_k(x, k)[0][:, -1:]
        np.testing.assert_array_equal(activations.kth_largest(x, k), expected)
        np.testing.assert_array_equal(activations.kth_largest(x.T, k, axis=0), expected.T)


def _smoothed(z, theta, eps):
    """Kernel-smoothed JumpReLU and step: E_u[f(z + eps u)], u ~ rectangle kernel.

    With ``a = clip((theta - z) / eps, -1/2, 1/2)``, ``int_a^{1/2} (z + eps u) du``
    and ``int_a^{1/2} du``; their theta-derivatives inside the window are
    exactly ``-theta / eps`` and ``-1 / eps``, the pseudo-derivatives.
    """
    a = jnp.clip((theta - z) / eps, -0.5, 0.5)
    return z * (0.5 - a) + 0.5 * eps * (0.25 - a**2), 0.5 - a


def test_jumprelu_gradients_match_kernel_smoothed_finite_differences():
    eps, h = 1e-3, 5e-5
    theta = jnp.full((6,), 0.05)
    # Inside the kernel window (|z - theta| + h < eps / 2) and far outside it.
    z = theta + jnp.array([-4e-4, -1e-4, 1e-4, 3e-4, -0.02, 0.02])
    g_relu = jax.grad(lambda t: jnp.sum(activations.jumprelu(z, t, eps)))(theta)
    g_step = jax.grad(lambda t: jnp.sum(activations.step(z, t, eps)))(theta)
    fd = [
        (s_plus - s_minus) / (2 * h)
        for s_plus, s_minus in zip(
            _smoothed(z, theta + h, eps), _smoothed(z, theta - h, eps), strict=True
        )
    ]
    np.testing.assert_allclose(g_relu, fd[0], rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(g_step, fd[1], rtol=2e-3, atol=1e-6)
    assert np.all(np.asarray(g_relu[:4]) < 0) and np.all(np.asarray(g_relu[4:]) == 0)

    # w.r.t. z: the true derivative H(z - theta) for JumpReLU, zero for the step.
    g_z = jax.grad(lambda z: jnp.sum(activations.jumprelu(z, theta, eps)))(z)
    np.testing.assert_array_equal(g_z, (z > theta).astype(jnp.float32))
    np.testing.assert_array_equal(
        jax.grad(lambda z: jnp.sum(activations.step(z, theta, eps)))(z), 0.0)


def test_jumprelu_theta_gradient_sums_over_batch():
    z = jnp.array([[0.0497, 0.2], [0.0502, 0.0498]])
    theta = jnp.array([0.05, 0.05])
    g = jax.grad(lambda t: jnp.sum(activations.step(z, t, 1e-3)))(theta)
    np.testing.assert_allclose(g, [-2e3, -1e3], rtol=1e-5)
