"""Real-file conformance: every file in ../shared/data/real_files reads right (reader, image
shape, channels, axis range and unit) or is refused in one line that says why, and every
workflow (info, run, peaks, report.html) ends in outputs or in a ``chemmap: error:`` line,
never a traceback; truncated copies of the vendor files are refused as truncated."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from chemmap.cli.main import main
from chemmap.core.exceptions import ChemmapError
from chemmap.io import read

pytest.importorskip("rsciio", reason="the vendor files need the 'vendor' extra (RosettaSciIO)")

# real files warn (guessed units, fixed axes): the warnings are part of the outcome, not failures
pytestmark = [pytest.mark.data, pytest.mark.filterwarnings("default::chemmap.core.exceptions.ChemmapWarning")]

#: file: (reader, image shape, channels, (first, last) axis value, unit), or the words of its refusal.
MANIFEST = {
    "bruker/Hitachi_TM3030Plus.bcf": ("vendor", (240, 320), 2048, (-0.4746, 19.9954), "keV"),
    "bruker/P45_the_default_job.bcf": ("vendor", (75, 100), 2048, (-0.4724, 19.9996), "keV"),
    "bruker/bruker_m6_jetstream_file_example.spx": ("vendor", (1, 1), 4096, (-0.9555, 39.9904), "keV"),
    "bruker/bruker_nano.spx": ("vendor", (1, 1), 4096, (-0.2389, 9.9986), "keV"),
    "csv/bladder.csv.xz": ("csv-flat", (18, 20), 391, (598.1, 1800.8), "cm-1"),
    "csv/paracetaminol.csv": "no header row of axis values",
    "digitalmicrograph/EELS_SI.dm4": ("vendor", (2, 2), 2048, (300.0, 2347.0), "eV"),
    "digitalsurf/test_spectral_map.sur": ("vendor", (12, 10), 310, (333.275, 668.231), "nm"),  # file's mm -> nm
    "emd/example_velox_EELS_EDS.emd": ("vendor", (128, 128), 4096, (-0.2, 40.75), "keV"),
    "envi/cubus_gamsberg_subset": ("envi", (25, 10), 189, (426.82, 2324.91), "nm"),  # 'Unknown' read as nm
    "envi/library_berlin.sli": ("envi", (75, 1), 177, (460.0, 2409.0), "nm"),  # a library: one spectrum a row
    "hspy/example2_v3.1.hspy": "holds no spectral cube",
    "jeol/View000_0000006.pts": ("vendor", (512, 512), 4096, (-0.9607, 39.9839), "keV"),
    "jobinyvon/jobinyvon_test_map_x3-y2.xml": ("vendor", (2, 3), 34, (720.924, 771.797), "nm"),
    "msa/example2.msa": ("vendor", (1, 1), 80, (200.0, 990.0), "eV"),
    "phenom/Elid2Version4.elid": ("vendor", (16, 16), 2048, (-0.0363, 20.2019), "keV"),
    "renishaw/interrupted_acquisition.wdf": ("vendor", (3, 4), 1010, (-163.693, 1128.62), "cm-1"),
    "renishaw/renishaw_test_linescan.wdf": ("vendor", (1, 5), 40, (361.313, 364.642), "nm"),
    "renishaw/renishaw_test_map.wdf": ("vendor", (3, 3), 47, (346.773, 350.677), "nm"),
    "renishaw/renishaw_test_map2.wdf": ("vendor", (20, 20), 1015, (326.172, 412.448), "nm"),
    "renishaw/renishaw_test_streamline.wdf": ("vendor", (49, 45), 394, (924.195, 1667.69), "cm-1"),
    "ripple/test_ripple_sdim-1_ndim-2_uint16_meta.rpl": ("ripple", (2, 3), 4, (1.5, 901.5), "eV"),
    "tia/16x16-spectrum_image-5x5x1024.emi": ("vendor", (5, 5), 1024, (-20.0, 184.6), "eV"),
    "trivista/map.tvf": ("vendor", (9, 9), 1024, (891.894, 932.579), "nm"),
}
#: Files `chemmap run` is not tried on here (tens of seconds and GBs each; ../shared/bin/real-sweep runs them).
LARGE = {"bruker/Hitachi_TM3030Plus.bcf", "jeol/View000_0000006.pts", "emd/example_velox_EELS_EDS.emd"}
#: Files the EDS/XRF/Raman peak workflow is run on.
SPECTRA = [
    name
    for name, entry in MANIFEST.items()
    if isinstance(entry, tuple) and entry[4] in ("keV", "eV", "cm-1", "nm") and not name.startswith("envi/")
]
#: Refusals a workflow may answer with on a real file, besides its outputs.
ACCEPTED_REFUSALS = (
    "holds no spectral cube",
    "no header row of axis values",
    "holds one spectrum, not an image",  # a single spectrum cannot be clustered
    "No peak stands out",
    "finding peaks needs at least 5",  # the 4-channel ripple test file
)


def _cli(args, capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _workflow(workflow: str, path, out, capsys) -> int:
    """Run ``chemmap WORKFLOW path --out out``; it ends in outputs (0) or in one accepted
    ``chemmap: error:`` line (2), never in a traceback. Returns the exit code."""
    code, output = _cli([workflow, str(path), "--out", str(out), "--quiet"], capsys)
    assert "internal error" not in output and "Traceback" not in output, f"{workflow} {path.name}: {output}"
    if code != 0:
        assert code == 2, f"{workflow} {path.name}: exit {code}: {output}"
        errors = [line for line in output.splitlines() if line.startswith("chemmap: error:")]
        assert len(errors) == 1, output
        assert any(words in errors[0] for words in ACCEPTED_REFUSALS), f"{workflow} {path.name}: {errors[0]}"
    return code


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_real_file_reads_right_or_is_refused_in_one_line(real_file, name, capsys):
    path = real_file(name)
    expected = MANIFEST[name]
    code, output = _cli(["info", str(path)], capsys)
    if isinstance(expected, str):
        with pytest.raises(ChemmapError, match=expected):
            read(path)
        assert code == 2 and output.strip().startswith("chemmap: error:") and expected in output
        return
    assert code == 0, output
    reader, shape, channels, (first, last), unit = expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = read(path)
    assert cube.attrs["reader"] == reader
    assert tuple(cube.image_shape) == shape and cube.n_channels == channels
    assert cube.axis.unit == unit
    assert cube.axis.values[0] == pytest.approx(first, abs=1e-3 * max(1.0, abs(first)))
    assert cube.axis.values[-1] == pytest.approx(last, rel=1e-4)
    assert f"{shape[0]} x {shape[1]} pixels x {channels} channels ({reader}" in output


@pytest.mark.parametrize("name", sorted(set(MANIFEST) - LARGE))
def test_run_on_every_real_file_ends_in_outputs_or_one_error_line(real_file, name, tmp_path, capsys):
    out = tmp_path / "run"
    if _workflow("run", real_file(name), out, capsys) == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["image_shape"] == list(MANIFEST[name][1]) and metrics["n_channels"] == MANIFEST[name][2]
        page = (out / "report.html").read_text()
        assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    else:
        assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("name", SPECTRA)
def test_peaks_on_every_real_spectrum_file_ends_in_outputs_or_one_error_line(real_file, name, tmp_path, capsys):
    out = tmp_path / "peaks"
    if _workflow("peaks", real_file(name), out, capsys) == 0:
        report = json.loads((out / "peaks.json").read_text())
        # an image lists its peaks; one spectrum or a library, the peaks of each spectrum
        peaks = report.get("peaks") or [p for spectrum in report["spectra"] for p in spectrum["peaks"]]
        assert peaks and (out / "report.html").stat().st_size > 0
        for peak in peaks:  # the zero peak, continuum humps and noise spikes are never an element
            flags = peak.get("flags") or {}
            if {"zero", "broad", "narrow"} & set(flags):
                assert peak.get("element") is None, peak


@pytest.mark.parametrize("name", [n for n, e in MANIFEST.items() if isinstance(e, tuple) and e[0] == "vendor"])
def test_truncated_copies_of_vendor_files_are_refused_in_one_line(real_file, name, tmp_path, capsys):
    path = real_file(name)
    folder = tmp_path / "copy"
    folder.mkdir()
    for sibling in path.parent.glob(path.stem + "*"):  # .emi with its .ser
        shutil.copy(sibling, folder / sibling.name)
    broken = folder / path.name
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    code, output = _cli(["info", str(broken)], capsys)
    assert "internal error" not in output and "Traceback" not in output, output
    if code == 0:  # a reader that reads lazily may open half a file: its values must then not be garbage
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cube = read(broken)
        assert np.all(np.isfinite(np.asarray(cube.pixels()[:1], dtype=np.float64)))
        return
    assert code == 2 and output.strip().startswith("chemmap: error:") and broken.name in output, output
