"""Issue 18 on the data side, nothing lost and nothing silent: a damaged dataset cache is detected and
rebuilt (or stops the run with the fix), killed builds' temporaries are removed, the cache folder can be
listed and cleaned, and data mistakes (a broken dataset.json, a wrong label, missing files, upscaling, an
offline download, an unwritable cache folder) end in one line that names the file or value."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import warnings
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.cache_folder import human_size, report
from datamodules.ffhq import FFHQDataModule
from datamodules.folder import FolderDataModule
from datamodules.images import OPEN_SAMPLE, row_checksums, temporary
from tests.conftest import run_cli
from zoo.errors import ZooError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def random_pngs(folder, n, size=16, seed=0):
    """``n`` PNGs of random pixels (every image distinct, so any swap or overwrite shows)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def folder_data(root, cache_dir, **kwargs) -> FolderDataModule:
    options = {"resolution": 16, "batch_size": 4, "num_workers": 0, "hflip": False, "cache_dir": str(cache_dir)}
    return FolderDataModule(str(root), **{**options, **kwargs})


def built_cache(root, cache_dir):
    """Builds the folder's 16 px cache; returns its path (no suffix) and every image as cached."""
    dm = folder_data(root, cache_dir)
    dm.setup()
    return dm.cache_path(), dm.dataset.__getitems__(list(range(len(dm.dataset))))[0]


def damaged_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "is damaged" in line]


def fit_args(root, batch_size=4):
    return [
        "fit", "--model", "dcgan", "--data", "folder", "--data.root", str(root), "--data.resolution", "16",
        "--data.batch_size", str(batch_size), "--model.ngf", "8", "--model.ndf", "8", "--trainer.max_steps", "2",
        "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------- damaged cache


def overwrite_images(stem, data: bytes | None) -> None:
    """Overwrites the image rows of the .npy in place (same size, header intact): zeros or random bytes."""
    images = np.load(stem.with_suffix(".npy"), mmap_mode="r+")
    noise = np.random.default_rng(1).integers(0, 256, images.shape, dtype=np.uint8)
    images[:] = 0 if data is None else noise
    images.flush()


def truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "zeros": (lambda s: overwrite_images(s, None), r"image row 0 differs from its checksum; \S+\.npy was written to"),
    "random bytes": (lambda s: overwrite_images(s, b"noise"), r"image row 0 differs from its checksum; "),
    "truncated npy": (lambda s: truncate(s.with_suffix(".npy")), r"\.npy has 3136 bytes, 6272 were written"),
    "deleted index": (lambda s: s.with_suffix(".index.npy").unlink(), r"\.index\.npy is missing"),
    "index out of range": (
        lambda s: np.save(s.with_suffix(".index.npy"), np.arange(8) + 100),
        r"\.index\.npy differs from the index that was written",
    ),
    "npy of another shape": (
        lambda s: np.save(s.with_suffix(".npy"), np.zeros((24, 1, 16, 16), np.uint8)),
        r"\.npy holds uint8 \(24, 1, 16, 16\), not uint8 \(8, 3, 16, 16\)",
    ),
    "truncated json": (lambda s: truncate(s.with_suffix(".json")), r"\.json is unreadable: "),
    "invalid json": (lambda s: s.with_suffix(".json").write_text("}{"), r"\.json is unreadable: Expecting value"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_cache_is_rebuilt_with_one_warning_saying_why(tmp_path, kind):
    root = random_pngs(tmp_path / "data", 8)
    stem, images = built_cache(root, tmp_path / "cache")
    damage, reason = DAMAGE[kind]
    damage(stem)
    dm = folder_data(root, tmp_path / "cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.prepare_data()
        dm.setup()
    [warning] = [str(w.message) for w in caught if "damaged" in str(w.message)]
    assert warning.startswith(f"dataset cache {stem}.npy is damaged (") and warning.endswith("; rebuilding it")
    assert re.search(reason, warning), warning
    assert torch.equal(dm.dataset.__getitems__(list(range(8)))[0], images)  # the rebuilt cache is the original


def test_the_checksum_sees_zeros_flipped_bits_and_swapped_blocks_at_any_image_size():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 3, 64, 64), dtype=np.uint8)  # 12 KiB rows: three 4 KiB blocks
    sums = row_checksums(images)
    flipped, zeroed, swapped = images.copy(), images.copy(), images.copy()
    flipped[1, 2, 10, 10] ^= 1
    zeroed[2] = 0
    swapped[0].reshape(3, -1)[[0, 1]] = swapped[0].reshape(3, -1)[[1, 0]]  # two 4 KiB blocks trade places
    assert (row_checksums(flipped) != sums).tolist() == [False, True, False]
    assert (row_checksums(zeroed) != sums).tolist() == [False, False, True]
    assert (row_checksums(swapped) != sums).tolist() == [True, False, False]
    odd = rng.integers(0, 256, (2, 1, 5, 5), dtype=np.uint8)  # 25-byte rows, not whole 64-bit words
    changed = odd.copy()
    changed[1, 0, 4, 4] ^= 0x80
    assert row_checksums(odd)[0] == row_checksums(changed)[0] and row_checksums(odd)[1] != row_checksums(changed)[1]


def test_fit_on_a_zeroed_cache_rebuilds_it_instead_of_training_on_black_images(tmp_path):
    root = random_pngs(tmp_path / "data", 8)
    stem, _ = built_cache(root, tmp_path / "cache")
    overwrite_images(stem, None)
    result = run_cli(*fit_args(root), cwd=tmp_path, env={"GAN_ZOO_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    [line] = damaged_lines(result.stderr)
    assert line.endswith(
        f"dataset cache {stem}.npy is damaged (image row 0 differs from its checksum; {stem.name}.npy was written "
        "to after the build); rebuilding it"
    )
    assert np.load(stem.with_suffix(".npy"))[:, :, 0, 0].any()  # real pixels again


def unsampled_row(n: int) -> int:
    """An image that the check of a sample on open does not read."""
    sampled = set(np.unique(np.linspace(0, n - 1, OPEN_SAMPLE).astype(int)).tolist())
    return min(set(range(n)) - sampled)


def flip_a_bit(stem, row: int) -> None:
    cached = np.load(stem.with_suffix(".npy"), mmap_mode="r+")
    cached[row, 0, 0, 0] ^= 1
    cached.flush()


def test_one_changed_image_outside_the_sample_is_found_because_the_file_was_written_to(tmp_path):
    n = OPEN_SAMPLE + 6
    root = random_pngs(tmp_path / "data", n)
    stem, images = built_cache(root, tmp_path / "cache")
    row = unsampled_row(n)
    flip_a_bit(stem, row)
    dm = folder_data(root, tmp_path / "cache")
    with pytest.warns(UserWarning, match=rf"damaged \(image row {row} differs from its checksum; .*\); rebuilding it"):
        dm.setup()
    assert torch.equal(dm.dataset.__getitems__(list(range(n)))[0], images)


def test_an_untouched_file_is_checked_by_sample_and_a_harmless_write_by_every_image_once(tmp_path):
    root = random_pngs(tmp_path / "data", 8)
    stem, _ = built_cache(root, tmp_path / "cache")
    meta = json.loads(stem.with_suffix(".json").read_text())
    os.utime(stem.with_suffix(".npy"))  # written to (touched), content unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folder_data(root, tmp_path / "cache").setup()  # every image checked: sound, no warning
    restamped = json.loads(stem.with_suffix(".json").read_text())
    assert restamped["npy_written"] != meta["npy_written"]
    assert restamped == {**meta, "npy_written": restamped["npy_written"]}  # the next open checks a sample again


def test_prepare_checks_every_image_and_repairs_what_a_sample_misses(tmp_path):
    n = OPEN_SAMPLE + 6
    root = random_pngs(tmp_path / "data", n)
    stem, images = built_cache(root, tmp_path / "cache")
    row = unsampled_row(n)
    flip_a_bit(stem, row)
    status = os.stat(stem.with_suffix(".npy"))  # as if the disk flipped it: the write times stay those recorded
    meta = json.loads(stem.with_suffix(".json").read_text())
    stem.with_suffix(".json").write_text(json.dumps({**meta, "npy_written": [status.st_mtime_ns, status.st_ctime_ns]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folder_data(root, tmp_path / "cache").setup()  # training's open checks a sample: not this image

    result = run_cli("prepare", "--data", "folder", "--data.root", str(root), "--data.resolution", "16",
                     cwd=tmp_path, env={"GAN_ZOO_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr
    [line] = damaged_lines(result.stderr)
    assert line.endswith(f"is damaged (image row {row} differs from its checksum); rebuilding it")
    assert f"{n} images at 16 px in {stem}.npy" in result.stdout
    assert np.array_equal(np.load(stem.with_suffix(".npy")), images.numpy())


# ------------------------------------------------------------------------------------ temporaries


def dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    return int(process.stdout)


def test_a_killed_builds_temporaries_are_removed_on_the_next_run_and_live_ones_kept(tmp_path):
    root = random_pngs(tmp_path / "data", 8)
    cache = tmp_path / "cache"
    cache.mkdir()
    other = cache / "folder-16px-0123456789ab.npy"
    live = temporary(other)  # this process: alive
    pid = dead_pid()
    killed = live.with_name(live.name.replace(f".tmp{os.getpid()}-", f".tmp{pid}-"))
    version_1 = cache / f"folder-16px-0123456789ab.json.tmp{pid}"  # how cache version 1 named them
    elsewhere_busy = cache / f"{other.name}.tmp{pid}-another-machine"
    elsewhere_old = cache / f"{other.name}.tmp{pid + 1}-another-machine"
    unrelated = cache / f"notes.txt.tmp{pid}"
    for path in (live, killed, version_1, elsewhere_busy, elsewhere_old, unrelated):
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(elsewhere_old, (two_days_ago, two_days_ago))

    folder_data(root, cache).prepare_data()
    assert live.exists() and elsewhere_busy.exists() and unrelated.exists()
    assert not killed.exists() and not version_1.exists() and not elsewhere_old.exists()
    assert not [p for p in cache.iterdir() if p.name.startswith("folder-16px-") and ".tmp" in p.name and
                p not in (live, elsewhere_busy)]  # fmt: skip


# ------------------------------------------------------------------------------------ cache folder


def test_prepare_lists_the_cache_folder_and_clean_removes_only_what_is_stale(tmp_path, capsys):
    root = random_pngs(tmp_path / "data", 8)
    cache = tmp_path / "cache"
    sound, _ = built_cache(root, cache)
    stale, damaged = cache / "folder-16px-00000000000a", cache / "folder-16px-00000000000b"
    for copy in (stale, damaged):
        for suffix in (".npy", ".index.npy", ".json"):
            copy.with_suffix(suffix).write_bytes(sound.with_suffix(suffix).read_bytes())
    meta = json.loads(stale.with_suffix(".json").read_text())
    stale.with_suffix(".json").write_text(json.dumps({**meta, "version": 1}))
    truncate(damaged.with_suffix(".npy"))
    killed = cache / f"folder-16px-00000000000c.npy.tmp{dead_pid()}-{socket.gethostname()}"
    running = temporary(cache / "folder-16px-00000000000d.npy")
    user_file = cache / "mine.npy"
    for path in (killed, running, user_file):
        path.write_bytes(b"x" * 100)

    def size(stem):
        return sum(stem.with_suffix(suffix).stat().st_size for suffix in (".npy", ".index.npy", ".json"))

    removable = human_size(size(stale) + size(damaged) + 100)
    assert report(cache, clean=False) == 0
    listing = capsys.readouterr().out
    assert f"{sound.name}  {human_size(size(sound))}  ok: 8 images, 3x16x16, from {root / '000.png'}" in listing
    assert f"{stale.name}  {human_size(size(stale))}  stale: cache version 1" in listing
    assert (f"{damaged.name}  {human_size(size(damaged))}  damaged: {damaged.name}.npy has 3136 bytes, "
            "6272 were written") in listing  # fmt: skip
    assert f"{killed.name}  100 B  temporary left by a killed build" in listing
    assert f"{running.name}  100 B  temporary of a running build (process {os.getpid()})" in listing
    assert "mine.npy" not in listing
    assert listing.strip().endswith(
        f"3 stale, damaged or left-over entries ({removable}): python cli.py prepare --clean removes them"
    )

    result = run_cli("prepare", "--clean", "--cache_dir", str(cache), cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert result.stdout.strip().endswith(f"removed 3 stale, damaged or left-over entries ({removable})")
    left = sorted(p.name for p in cache.iterdir())
    assert left == sorted([user_file.name, running.name, *(sound.name + s for s in (".npy", ".index.npy", ".json"))])


def test_prepare_help_and_a_missing_data_option(capsys):
    from cli import main

    with pytest.raises(SystemExit) as done:
        main(["prepare", "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert "python cli.py prepare --data NAME --data.root PATH" in help_text and "--clean" in help_text
    assert main(["prepare", "--data.root", "somewhere"]) == 2
    assert capsys.readouterr().err == (
        "error: choose a dataset with --data NAME, or --list / --clean the cache folder (see --help)\n"
    )


# ------------------------------------------------------------------------------------ dataset.json


def png(value: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (value, value, value)).save(out, format="PNG")
    return out.getvalue()


NAMES = [f"00000/img{i:08d}.png" for i in range(4)]


def labelled_zip(path, dataset_json: str):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i, name in enumerate(NAMES):
            z.writestr(name, png(40 * i))
        z.writestr("dataset.json", dataset_json)
    return path


def labels_json(labels) -> str:
    return json.dumps({"labels": [[name, y] for name, y in zip(NAMES, labels)]})


def test_a_malformed_dataset_json_names_the_file_and_line(tmp_path):
    text = '{"labels": [\n  ["00000/img00000000.png", 0],\n  ["00000/img00000001.png" 1]\n]}'
    archive = labelled_zip(tmp_path / "faces.zip", text)
    env = {"GAN_ZOO_CACHE": str(tmp_path / "cache")}
    result = run_cli("prepare", "--data", "ffhq", "--data.root", str(archive), "--data.labels", "true",
                     "--data.resolution", "16", cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        (
            f"error: {archive}:dataset.json is not valid JSON: Expecting ',' delimiter at line 3, column 28; fix it "
            '(StyleGAN2-ADA\'s format: {"labels": [["00000/img00000000.png", 6], ...]}) or remove it'
        )
    ]


@pytest.mark.parametrize("label", ["cat", 1.5, None, -1, True])
def test_a_non_integer_label_names_the_file_the_image_and_the_value(tmp_path, label):
    root = tmp_path / "faces"
    for i, name in enumerate(NAMES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png(40 * i))
    (root / "dataset.json").write_text(labels_json([0, 1, 0, label]))
    with pytest.raises(ZooError) as err:
        FFHQDataModule(str(root), labels=True, resolution=16)
    assert str(err.value) == (
        f"{root / 'dataset.json'} gives {NAMES[3]} the label {json.dumps(label)}; class labels must be integers >= 0"
    )


def test_dataset_json_listing_absent_files_warns_with_the_count_and_goes_on(tmp_path):
    text = json.dumps({"labels": [[n, i % 2] for i, n in enumerate(NAMES)] + [["00001/gone.png", 1], ["x.png", 0]]})
    archive = labelled_zip(tmp_path / "faces.zip", text)
    with pytest.warns(UserWarning) as caught:
        dm = FFHQDataModule(str(archive), labels=True, resolution=16)
    [message] = [str(w.message) for w in caught]
    assert message == (
        f"{archive}:dataset.json lists 2 files that are not in the dataset (e.g. 00001/gone.png); "
        "their labels are ignored"
    )
    assert dm.num_classes == 2 and dm.source().labels.tolist() == [0, 1, 0, 1]


# ----------------------------------------------------------------------------- other data mistakes


def test_a_folder_smaller_than_the_resolution_warns_once_with_the_source_size(tmp_path):
    root = random_pngs(tmp_path / "data", 4, size=16)
    dm = folder_data(root, tmp_path / "cache", resolution=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.validate()
        dm.prepare_data()
        dm.setup()
    assert [str(w.message) for w in caught] == [
        (
            f"--data.resolution 32 is larger than the images, which are upscaled ({root / '000.png'} is 16x16); "
            "pass --data.resolution 16 or less to train on them unscaled"
        )
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folder_data(root, tmp_path / "cache", resolution=16).setup()  # no warning at the source size


def offline_fetch():
    """What urllib raises on a machine without a network, as torchvision's download would meet it."""
    raise urllib.error.URLError(OSError(101, "Network is unreachable"))


def corrupt_fetch():
    """What torchvision raises when a downloaded archive fails its checksum."""
    raise RuntimeError("File not found or corrupted.")


@pytest.mark.parametrize(
    "fetch, reason",
    [(offline_fetch, "[Errno 101] Network is unreachable"), (corrupt_fetch, "File not found or corrupted.")],
    ids=["offline", "corrupt"],
)
@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_a_failed_download_says_why_and_where_to_put_the_files(tmp_path, name, fetch, reason):
    """Every torchvision download runs through ``datamodules.base.download``; the suite runs offline, so the
    failure torchvision would meet is raised by the fetch itself and no download is ever asked for."""
    from datamodules import get_datamodule
    from datamodules.base import download

    dm = get_datamodule(name)(root=str(tmp_path / "data"))
    dataset = dm.source.__name__
    with pytest.raises(ZooError) as err:
        download(fetch, dataset, dm.root, dm.layout)
    assert str(err.value) == (
        f"downloading {dataset} failed ({reason}); get the files another way and put {dm.layout} in "
        f"{tmp_path / 'data'}, then run without --data.download"
    )


def test_an_unwritable_cache_folder_is_one_line_before_the_run_starts(tmp_path):
    root = random_pngs(tmp_path / "data", 8)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where the cache folder's parent should be")
    result = run_cli(*fit_args(root), cwd=tmp_path, env={"GAN_ZOO_CACHE": str(blocker / "cache")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the dataset cache in {blocker / 'cache'} (Not a directory): point --data.cache_dir "
        "(or $GAN_ZOO_CACHE) at a writable folder, or pass --data.cache false to decode images on the fly"
    )
    assert not (tmp_path / "runs").exists()  # stopped before a run folder was made
    with pytest.raises(ZooError, match=rf"cannot write the dataset cache in {blocker} \(a file has that name\)"):
        folder_data(root, blocker).prepare_data()


def test_a_full_disk_while_the_cache_is_built_is_one_line_and_leaves_no_partial_file(tmp_path, small_disk):
    """The cache's blocks are reserved before the memory map is written: without that a full disk kills the
    process with SIGBUS at the first page that does not fit."""
    root = random_pngs(tmp_path / "data", 40, size=64)  # 40 x 3 x 64 x 64 bytes: 480 KiB, on a 100 KiB disk
    disk = small_disk("100k")
    result = run_cli(*fit_args(root), "--data.resolution", "64", cwd=tmp_path, env={"GAN_ZOO_CACHE": str(disk)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the dataset cache in {disk} (No space left on device): point --data.cache_dir "
        "(or $GAN_ZOO_CACHE) at a writable folder, or pass --data.cache false to decode images on the fly"
    )
    assert list(disk.iterdir()) == []  # the partial .npy is gone
