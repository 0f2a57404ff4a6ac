"""Property tests (hypothesis) of the Q-learning kernels and simulation.

Over alpha in [0, 1] with its edges, beta in (0, 100], 2 to 5,000 trials and any
action and reward sequence: the log-likelihood is finite and <= 0, its gradient equals
central finite differences wherever both sides are inside the support, and a
simulation is reproducible from its seed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlrecover.qlearning import loglik_grad, right_probs, simulate

EPS = np.finfo(np.float64).eps

alphas = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
betas = st.one_of(st.sampled_from([100.0]), st.floats(0.0, 100.0, exclude_min=True))
n_trials = st.one_of(st.sampled_from([2, 5000]), st.integers(2, 5000))
# How the sequence is made: random, all zeros, all ones, or alternating.
kinds = st.sampled_from(["random", "zeros", "ones", "alternating"])
# Derandomised: the same examples on every run (seeded, like the rest of the suite).
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _sequence(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        return rng.integers(0, 2, n)
    if kind == "zeros":
        return np.zeros(n, dtype=np.int64)
    if kind == "ones":
        return np.ones(n, dtype=np.int64)
    return np.arange(n) % 2


@st.composite
def datasets(draw):
    n = draw(n_trials)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    actions = _sequence(draw(kinds), n, rng)
    rewards = _sequence(draw(kinds), n, rng)
    q_init = draw(st.sampled_from([0.5, 0.0, 1.0, 0.2]))
    return actions, rewards, q_init


@SETTINGS
@given(alpha=alphas, beta=betas, data=datasets())
def test_loglik_is_finite_and_at_most_zero(alpha, beta, data):
    actions, rewards, q_init = data
    ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
    assert np.isfinite(ll) and ll <= 0.0
    assert np.all(np.isfinite(grad))
    p = right_probs(alpha, beta, actions, rewards, q_init)
    assert np.all((p >= 0.0) & (p <= 1.0))


def _central_difference(f, x: float, h: float) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@SETTINGS
@given(alpha=st.floats(1e-3, 1 - 1e-3), beta=st.floats(1e-2, 100.0), data=datasets())
def test_gradient_equals_finite_differences(alpha, beta, data):
    actions, rewards, q_init = data
    ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
    for i, (x, f) in enumerate(
        (
            (alpha, lambda a: loglik_grad(a, beta, actions, rewards, q_init)[0]),
            (beta, lambda b: loglik_grad(alpha, b, actions, rewards, q_init)[0]),
        )
    ):
        h = 1e-4 * min(x, 1 - x) if i == 0 else 1e-4 * x
        d1 = _central_difference(f, x, h)
        d2 = _central_difference(f, x, h / 2)
        # Central differences err by c h^2 (truncation) plus noise(f) / h (rounding).
        # Halving h quarters the first: |d1 - d2| estimates 3/4 of d1's truncation
        # error, and d2 (with its Richardson correction) is at most that far off. The
        # kernel sums n terms, so its value carries up to n eps |f| of rounding noise;
        # each difference turns that into at most 2 n eps |f| / h.
        noise = len(actions) * EPS * (abs(ll) + 1.0)
        rounding = 2 * noise / (h / 2)
        tol = 2 * abs(d1 - d2) + 2 * rounding + 1e-12 * abs(grad[i])
        richardson = d2 + (d2 - d1) / 3
        assert abs(richardson - grad[i]) <= tol, (i, richardson, grad[i], tol)


@SETTINGS
@given(
    alpha=alphas,
    beta=betas,
    n=st.integers(2, 2000),
    seed=st.integers(0, 2**63 - 1),
    probs=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_simulation_is_reproducible_from_its_seed(alpha, beta, n, seed, probs):
    first = simulate(alpha, beta, n, probs, 0.5, rng=np.random.default_rng(seed))
    again = simulate(alpha, beta, n, probs, 0.5, rng=np.random.default_rng(seed))
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.shape == (n,) and set(np.unique(x)) <= {0, 1}
