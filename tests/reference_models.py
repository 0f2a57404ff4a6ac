"""Plain-Python reference implementations of the library's models, written from their equations.

Each function below implements one model of :mod:`rlrecover.models` from its table of
equations (the model's choice rule and learning rule), *not* from its numba kernels:
it shares no code with them and computes differently on purpose (the sigmoid models
through a two-arm softmax of the arm values, with both traces of the choice kernel
kept rather than their difference; bias and wsls straight from their probabilities),
so that an error in a kernel cannot be repeated here. Only ``math`` is used.

=========  ================================  ==========================================
name       choice rule                       learning after each choice
=========  ================================  ==========================================
rw         P1 = sigmoid(beta (Q1 - Q0))      Q[a] += alpha (r - Q[a]); Q starts at q_init
bias       P1 = b                            none
wsls       after a win P(repeat) =           none
           1 - epsilon/2, after a loss
           epsilon/2; trial 1: 0.5
ck         P1 = sigmoid(beta_c (C1 - C0))    C <- (1 - alpha_c) C, then C[a] += alpha_c;
                                             C starts at 0
rwck       P1 = sigmoid(beta (Q1 - Q0)       both updates above
           + beta_c (C1 - C0))
rw2        as rw                             d = r - Q[a]; Q[a] += alpha_pos d if d > 0,
                                             else alpha_neg d
=========  ================================  ==========================================

Adding a model to the library
-----------------------------
``tests/test_models.py`` runs its template (likelihood against the reference, gradients
and Jacobians against finite differences, consistency of the three kernels, simulation,
supports) on every model of :func:`rlrecover.models.registry`, so a new model is
checked as soon as its module exists. Its author adds here, from the model's equations
and without calling its kernels, a function decorated with ``@reference("<name>")``
that returns the log-probabilities of both arms on every trial (see :func:`rw`); the
template fails for a model without one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "REFERENCES",
    "log_probs",
    "loglik",
    "reference",
    "replay",
    "right_probs",
]

#: One log-probability pair per trial: ``(log P(left), log P(right))`` before the
#: trial's choice, given the choices and rewards of the trials before it.
LogProbs = list[tuple[float, float]]

#: The reference of every model, by name.
REFERENCES: dict[str, Callable[..., LogProbs]] = {}


def reference(name: str):
    """Register the decorated function as the reference of model ``name``.

    The function takes ``(theta, actions, rewards, **consts)`` (``theta`` a mapping of
    parameter names to values, the data as sequences of 0 and 1, the model's constants
    by name) and returns one ``(log P(left), log P(right))`` per trial, the first trial
    included.
    """

    def register(fn):
        REFERENCES[name] = fn
        return fn

    return register


def _log(x: float) -> float:
    """``log(x)``, with ``log(0) = -inf`` (a choice the model cannot make)."""
    return -math.inf if x == 0.0 else math.log(x)


def _softmax2(u0: float, u1: float) -> tuple[float, float]:
    """Log-probabilities of the two-arm softmax of the utilities ``u0``, ``u1``.

    The notebook's form: ``u - logsumexp(u)``, the log-sum-exp taken around the larger
    utility.
    """
    m = max(u0, u1)
    lse = m + math.log(math.exp(u0 - m) + math.exp(u1 - m))
    return u0 - lse, u1 - lse


@reference("rw")
def rw(theta, actions, rewards, q_init=0.5) -> LogProbs:
    """Rescorla-Wagner: softmax of ``beta Q``; the chosen arm's value learns."""
    alpha, beta = theta["alpha"], theta["beta"]
    q = [q_init, q_init]
    out = []
    for a, r in zip(actions, rewards, strict=True):
        out.append(_softmax2(beta * q[0], beta * q[1]))
        q[a] = q[a] + alpha * (r - q[a])
    return out


@reference("bias")
def bias(theta, actions, rewards) -> LogProbs:
    """Random responding: the right arm with probability ``b`` on every trial."""
    b = theta["b"]
    return [(_log(1.0 - b), _log(b)) for _ in actions]


@reference("wsls")
def wsls(theta, actions, rewards) -> LogProbs:
    """Noisy win-stay lose-shift: repeat with 1 - epsilon/2 after a win, epsilon/2 after a loss."""
    eps = theta["epsilon"]
    follow, deviate = _log(1.0 - eps / 2.0), _log(eps / 2.0)
    out = [(math.log(0.5), math.log(0.5))]
    for a, r in zip(actions[:-1], rewards[:-1], strict=True):
        # Each log-probability from its own expression: 1 - (1 - eps/2) would lose the
        # small one's digits.
        repeat, switch = (follow, deviate) if r == 1 else (deviate, follow)
        out.append((switch, repeat) if a == 1 else (repeat, switch))
    return out


def _decay_and_mark(c: list[float], alpha_c: float, a: int) -> list[float]:
    """The choice kernel's update: every trace decays, the chosen one grows."""
    c = [(1.0 - alpha_c) * x for x in c]
    c[a] += alpha_c
    return c


@reference("ck")
def ck(theta, actions, rewards) -> LogProbs:
    """Choice kernel: softmax of ``beta_c C``, both traces kept."""
    alpha_c, beta_c = theta["alpha_c"], theta["beta_c"]
    c = [0.0, 0.0]
    out = []
    for a in actions:
        out.append(_softmax2(beta_c * c[0], beta_c * c[1]))
        c = _decay_and_mark(c, alpha_c, a)
    return out


@reference("rwck")
def rwck(theta, actions, rewards, q_init=0.5) -> LogProbs:
    """Rescorla-Wagner plus choice kernel: softmax of ``beta Q + beta_c C``."""
    alpha, beta = theta["alpha"], theta["beta"]
    alpha_c, beta_c = theta["alpha_c"], theta["beta_c"]
    q = [q_init, q_init]
    c = [0.0, 0.0]
    out = []
    for a, r in zip(actions, rewards, strict=True):
        out.append(_softmax2(beta * q[0] + beta_c * c[0], beta * q[1] + beta_c * c[1]))
        q[a] = q[a] + alpha * (r - q[a])
        c = _decay_and_mark(c, alpha_c, a)
    return out


@reference("rw2")
def rw2(theta, actions, rewards, q_init=0.5) -> LogProbs:
    """Rescorla-Wagner with one learning rate per sign of the prediction error."""
    alpha_pos, alpha_neg, beta = theta["alpha_pos"], theta["alpha_neg"], theta["beta"]
    q = [q_init, q_init]
    out = []
    for a, r in zip(actions, rewards, strict=True):
        out.append(_softmax2(beta * q[0], beta * q[1]))
        delta = r - q[a]
        q[a] = q[a] + (alpha_pos if delta > 0 else alpha_neg) * delta
    return out


# ------------------------------------------------------------------------------ helpers


def _plain(x: Sequence) -> list[int]:
    return [int(v) for v in x]


def log_probs(
    name: str,
    theta: Mapping[str, float],
    actions: Sequence[int],
    rewards: Sequence[int],
    consts: Mapping[str, float] | None = None,
) -> LogProbs:
    """``(log P(left), log P(right))`` of every trial under model ``name``'s reference.

    Raises
    ------
    KeyError
        If the model has no reference here (add one: see the module's docstring).
    """
    try:
        fn = REFERENCES[name]
    except KeyError:
        raise KeyError(
            f"model {name!r} has no plain reference in tests/reference_models.py: add one "
            "(a function decorated with @reference) written from its equations"
        ) from None
    theta = {k: float(v) for k, v in theta.items()}
    consts = {k: float(v) for k, v in (consts or {}).items()}
    return fn(theta, _plain(actions), _plain(rewards), **consts)


def loglik(name, theta, actions, rewards, consts=None) -> float:
    """The reference log-likelihood: ``sum log P(a_t)`` over trials 2..n."""
    lp = log_probs(name, theta, actions, rewards, consts)
    return math.fsum(lp[t][a] for t, a in enumerate(_plain(actions)) if t > 0)


def right_probs(name, theta, actions, rewards, consts=None) -> list[float]:
    """The reference ``P(right)`` on trials 2..n."""
    return [math.exp(right) for _, right in log_probs(name, theta, actions, rewards, consts)[1:]]


def replay(
    name: str,
    theta: Mapping[str, float],
    uniforms: Sequence[float],
    reward_probs: Sequence[float],
    consts: Mapping[str, float] | None = None,
) -> tuple[list[int], list[int]]:
    """Simulate from given uniforms by the package's conventions, with the reference.

    Trial ``t`` uses ``uniforms[2 t]`` for the choice (the right arm when it is at least
    ``P(left)``) and ``uniforms[2 t + 1]`` for the reward (1 when it is below the chosen
    arm's reward probability). The choice probabilities come from the reference, so
    the history is re-scored after every trial (quadratic cost: keep ``n`` small).
    """
    actions: list[int] = []
    rewards: list[int] = []
    for t in range(len(uniforms) // 2):
        # The reference scores a trial from the earlier ones only: a placeholder
        # choice for trial t does not change its probabilities.
        lp_left, _ = log_probs(name, theta, [*actions, 0], [*rewards, 0], consts)[t]
        a = 1 if uniforms[2 * t] >= math.exp(lp_left) else 0
        r = 1 if uniforms[2 * t + 1] < reward_probs[a] else 0
        actions.append(a)
        rewards.append(r)
    return actions, rewards
