"""rlrecover.kernels: the Kernels record and finding a model's record by module name."""

import types

import pytest

from rlrecover import qlearning
from rlrecover.kernels import Kernels, kernels_of


def test_qlearning_record():
    k = kernels_of("rlrecover.qlearning")
    assert k is qlearning.KERNELS
    assert isinstance(k, Kernels)
    assert k.params == ("alpha", "beta") and k.n_params == 2
    assert k.loglik_grad is qlearning.loglik_grad_kernel
    assert isinstance(k.salt, int) and k.salt > 0


def test_module_without_record_is_rejected(monkeypatch):
    import sys

    fake = types.ModuleType("fake_model_without_kernels")
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    with pytest.raises(TypeError, match="fake_model_without_kernels"):
        kernels_of(fake.__name__)


def test_missing_module_is_named():
    with pytest.raises(ModuleNotFoundError, match="no_such_model"):
        kernels_of("rlrecover.no_such_model")
