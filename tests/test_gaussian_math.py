"""The Gaussian-maths core: every torch reference against its numba twin, plus properties of each."""

import numpy as np
import pytest
import torch

from earth3d.errors import InputError
from earth3d.geometry.gaussian_math import (
    covariance,
    covariance_nb,
    decompose_covariance,
    decompose_covariance_nb,
    eval_sh,
    eval_sh_nb,
    pack_covariance,
    quat_to_rotmat,
    quat_to_rotmat_nb,
    rotate_quats,
    rotate_quats_nb,
    rotmat_to_quat,
    rotmat_to_quat_nb,
    sh_basis,
    sh_basis_nb,
    sh_degree_of,
)


def random_quats(n, seed=0):
    q = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return q * torch.rand(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1)).add(0.1) * 3


def random_dirs(n, seed=0):
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def fibonacci(n):
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)


# ---------------------------------------------------------------------------- SH
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_basis_twins_agree(degree):
    dirs = random_dirs(500)
    ref = sh_basis(torch.from_numpy(dirs), degree).numpy()
    assert ref.shape == (500, (degree + 1) ** 2)
    np.testing.assert_allclose(sh_basis_nb(dirs, degree), ref, rtol=1e-12, atol=1e-12)


def test_sh_basis_is_orthonormal_on_the_sphere():
    dirs = fibonacci(40000)
    b = sh_basis_nb(dirs, 3)
    gram = 4 * np.pi * b.T @ b / len(dirs)
    np.testing.assert_allclose(gram, np.eye(16), atol=2e-3)


def test_sh_basis_degree_one_is_the_direction():
    dirs = random_dirs(10)
    b = sh_basis_nb(dirs, 1)
    c1 = 0.4886025119029199
    np.testing.assert_allclose(b[:, 1:4], c1 * np.stack([-dirs[:, 1], dirs[:, 2], -dirs[:, 0]], 1), atol=1e-15)


@pytest.mark.parametrize("k", [1, 4, 9, 16])
def test_eval_sh_twins_agree(k):
    rng = np.random.default_rng(k)
    sh = rng.normal(size=(300, k, 3)).astype(np.float32)
    dirs = rng.normal(size=(300, 3)) * 5  # not unit: both normalize
    ref = eval_sh(torch.from_numpy(sh).double(), torch.from_numpy(dirs)).numpy()
    assert ref.min() == 0.0 and ref.max() > 0.5  # the clamp at 0 is exercised
    np.testing.assert_allclose(eval_sh_nb(sh, dirs), ref, rtol=1e-5, atol=1e-5)


def test_eval_sh_is_basis_times_coefficients():
    rng = np.random.default_rng(3)
    sh = rng.normal(size=(50, 16, 3))
    dirs = random_dirs(50, 4)
    expected = np.maximum(np.einsum("nk,nkc->nc", sh_basis_nb(dirs, 3), sh) + 0.5, 0)
    np.testing.assert_allclose(eval_sh(torch.from_numpy(sh), torch.from_numpy(dirs)).numpy(), expected, atol=1e-12)


def test_sh_degree_of_refuses_odd_sizes():
    assert [sh_degree_of(k) for k in (1, 4, 9, 16)] == [0, 1, 2, 3]
    with pytest.raises(InputError, match="5 SH coefficients"):
        sh_degree_of(5)
    with pytest.raises(ValueError, match="25 SH coefficients"):
        sh_degree_of(25)


# ---------------------------------------------------------------------------- rotations
def test_quat_to_rotmat_twins_agree_and_are_rotations():
    q = random_quats(400)
    ref = quat_to_rotmat(q).numpy()
    np.testing.assert_allclose(quat_to_rotmat_nb(q.numpy()), ref, atol=1e-12)
    np.testing.assert_allclose(ref @ ref.transpose(0, 2, 1), np.broadcast_to(np.eye(3), ref.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(ref), 1.0, atol=1e-12)


def test_rotmat_to_quat_twins_agree_and_invert():
    q = random_quats(400, seed=5)
    rot = quat_to_rotmat(q)
    # include the awkward cases: identity and half turns about each axis (w = 0)
    special = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]], dtype=torch.float64)
    rot = torch.cat([rot, quat_to_rotmat(special)])
    ref = rotmat_to_quat(rot).numpy()
    got = rotmat_to_quat_nb(rot.numpy())
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert (got[:, 0] >= 0).all()
    np.testing.assert_allclose(quat_to_rotmat_nb(got), rot.numpy(), atol=1e-12)


def test_rotate_quats_twins_agree_and_compose():
    q = random_quats(300, seed=7)
    frame = quat_to_rotmat(random_quats(1, seed=9))[0]
    ref = rotate_quats(q, frame)
    got = rotate_quats_nb(q.numpy(), frame.numpy())
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-12)
    # the turned quaternion's rotation is frame @ R
    np.testing.assert_allclose(quat_to_rotmat(ref).numpy(), (frame @ quat_to_rotmat(q)).numpy(), atol=1e-12)


# ---------------------------------------------------------------------------- covariances
def test_covariance_twins_agree():
    q = random_quats(500, seed=11)
    s = torch.rand(500, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(12)) * 4 + 0.01
    ref = pack_covariance(covariance(q, s)).numpy()
    np.testing.assert_allclose(covariance_nb(q.numpy(), s.numpy()), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(covariance_nb(q.float().numpy(), s.float().numpy()), ref, rtol=1e-5, atol=1e-5)


def test_decompose_covariance_twins_agree():
    q = random_quats(500, seed=13)
    s = torch.rand(500, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(14)) * 4 + 0.01
    cov = covariance(q, s)
    q_ref, s_ref = decompose_covariance(cov)
    q_nb, s_nb = decompose_covariance_nb(pack_covariance(cov).numpy())
    assert q_nb.dtype == np.float32 and s_nb.dtype == np.float32
    np.testing.assert_allclose(s_nb, s_ref.numpy(), rtol=1e-5)
    np.testing.assert_allclose(s_ref.numpy(), np.sort(s.numpy(), axis=1), rtol=1e-9)
    # eigenvectors are defined up to sign: compare the covariances they rebuild, and the axes up to sign
    rebuilt = covariance(torch.from_numpy(q_nb).double(), torch.from_numpy(s_nb).double())
    torch.testing.assert_close(rebuilt, cov, rtol=1e-4, atol=1e-5)
    axes_ref, axes_nb = quat_to_rotmat(q_ref).numpy(), quat_to_rotmat_nb(q_nb)
    np.testing.assert_allclose(np.abs(np.einsum("nij,nij->nj", axes_ref, axes_nb)), 1.0, atol=1e-4)
    assert (q_nb[:, 0] >= 0).all() and (q_ref.numpy()[:, 0] >= 0).all()


def test_decompose_covariance_of_a_flat_and_a_degenerate_splat():
    cov = np.array([[4.0, 0, 0, 1.0, 0, 0.0], [1.0, 0, 0, 1.0, 0, 1.0]])  # zero-thickness disc; isotropic
    q, s = decompose_covariance_nb(cov)
    np.testing.assert_allclose(s, [[0, 1, 2], [1, 1, 1]], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
    q_ref, s_ref = decompose_covariance(torch.stack([torch.tensor([[4.0, 0, 0], [0, 1, 0], [0, 0, 0]]), torch.eye(3)]))
    np.testing.assert_allclose(s_ref.numpy(), s, atol=1e-6)
