import numpy as np
import pytest
import torch

from earth3d import Gaussians
from earth3d.errors import InputFileError


def _random(n, origin=(6378137.0, 0.0, 0.0), seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, generator=g)
    return Gaussians.from_rgb(origin, torch.randn(n, 3, generator=g), q / q.norm(dim=-1, keepdim=True),
                              torch.rand(n, 3, generator=g), torch.rand(n, generator=g), torch.rand(n, 3, generator=g))


def test_slice_concat_rebase(tmp_path):
    a, b = _random(10), _random(5, origin=(6378137.0, 100.0, 0.0), seed=1)
    c = Gaussians.concat([a, b])
    assert len(c) == 15 and np.array_equal(c.origin, a.origin)
    assert np.allclose(c.means_ecef()[10:], b.means_ecef(), atol=1e-4)
    assert len(c[2:4]) == 2 and len(c[c.opacities > 0.5]) == int((c.opacities > 0.5).sum())
    assert torch.allclose(a.rgb, torch.as_tensor(a.rgb))


def test_save_load_round_trip(tmp_path):
    a = _random(20).with_sh_degree(3)
    a.save(tmp_path / "g.npz")
    b = Gaussians.load(tmp_path / "g.npz")
    assert b.sh_degree == 3 and np.array_equal(b.origin, a.origin)
    for k in ("means", "quats", "scales", "opacities", "sh"):
        assert torch.equal(getattr(a, k), getattr(b, k))
    assert not list(tmp_path.glob("*.tmp"))


def test_load_bad_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    with pytest.raises(InputFileError, match="bad.npz"):
        Gaussians.load(bad)
    with pytest.raises(InputFileError, match="missing.npz"):
        Gaussians.load(tmp_path / "missing.npz")


def test_shape_checked():
    with pytest.raises(ValueError, match="quats"):
        Gaussians(np.zeros(3), torch.zeros(2, 3), torch.zeros(3, 4), torch.zeros(2, 3), torch.zeros(2),
                  torch.zeros(2, 1, 3))
