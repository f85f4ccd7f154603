import numpy as np
import pandas as pd
import pytest

from chemmap.core.exceptions import (
    AxisError,
    AxisOrderWarning,
    FileFormatError,
    InputFileNotFoundError,
    InvalidParameterError,
    ShapeError,
)
from chemmap.io import read, write
from chemmap.io._build import is_memory_mapped
from chemmap.testing import assert_cube_equal


def _table(n_rows=6, axis=(600.0, 700.0, 800.0), seed=0):
    rng = np.random.default_rng(seed)
    spectra = rng.uniform(1, 2, size=(n_rows, len(axis)))
    frame = pd.DataFrame(spectra, columns=[str(v) for v in axis])
    frame.insert(0, "region", ["a", "b"] * (n_rows // 2))
    return frame, spectra


def test_csv_round_trip_keeps_spectra_axis_and_labels(tmp_path, demo_cube):
    path = tmp_path / "cube.csv"
    write(demo_cube, path, label_column="region")
    back = read(path, image_shape=(30, 30), label_column="region")
    assert_cube_equal(back, demo_cube, rtol=1e-6)
    assert back.label_names == {0: "left", 1: "right"}


def test_a_csv_keeps_its_axis_unit_in_a_column_the_reader_takes_it_from(tmp_path, demo_cube):
    from chemmap.core.axis import SpectralAxis

    counts = demo_cube.replace(axis=SpectralAxis(np.linspace(0.1, 20.0, demo_cube.n_channels), "keV"))
    write(counts, tmp_path / "eds.csv")
    assert pd.read_csv(tmp_path / "eds.csv")["axis_unit"].unique().tolist() == ["keV"]
    back = read(tmp_path / "eds.csv")  # read back as cm-1 before
    assert back.axis.unit == "keV" and back.image_shape == (30, 30)
    assert read(tmp_path / "eds.csv", axis_unit="eV").axis.unit == "eV"  # the option still decides
    frame, _ = _table()
    assert read_table(frame, tmp_path / "plain.csv", image_shape=(2, 3)).axis.unit == "cm-1"  # no column
    frame.insert(0, "axis_unit", ["nm", "nm", "cm-1", "nm", "nm", "nm"])
    with pytest.raises(FileFormatError, match=r"'axis_unit' column .* holds \['cm-1', 'nm'\]"):
        read_table(frame, tmp_path / "mixed.csv", image_shape=(2, 3))


def read_table(frame, path, **options):
    frame.to_csv(path, index=False)
    return read(path, **options)


def test_hdf5_round_trip_and_image_shape_attribute(tmp_path, demo_cube):
    path = tmp_path / "cube.h5"
    write(demo_cube, path)
    back = read(path)
    assert_cube_equal(back, demo_cube)
    assert back.attrs["image_shape_source"] == "the image_shape attribute of cube.h5"


def test_npz_and_npy(tmp_path, demo_cube):
    write(demo_cube, tmp_path / "c.npz")
    assert_cube_equal(read(tmp_path / "c.npz"), demo_cube)
    np.save(tmp_path / "c.npy", np.asarray(demo_cube.data))
    cube = read(tmp_path / "c.npy", axis=demo_cube.axis.values, axis_unit="cm-1")
    assert cube.axis == demo_cube.axis


@pytest.mark.parametrize(
    ("stored", "mapped"),
    [("<f4", True), (">f4", True), ("<f8", True), ("fortran", False), ("compressed", False)],
)
def test_an_uncompressed_npz_cube_is_memory_mapped_not_copied(tmp_path, stored, mapped):
    rng = np.random.default_rng(0)
    cube = rng.normal(size=(5, 7, 11)).astype(np.float32)
    axis = np.linspace(500.0, 600.0, 11)
    data = {"fortran": np.asfortranarray(cube), "compressed": cube}.get(stored)
    data = cube.astype(stored) if data is None else data
    (np.savez_compressed if stored == "compressed" else np.savez)(tmp_path / "c.npz", cube=data, axis=axis)
    back = read(tmp_path / "c.npz")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(back.data), cube)
    # a float32 member stays on disk (a memory map); a conversion or a compressed member is a copy
    assert is_memory_mapped(back.data) == (mapped and stored == "<f4")
    if mapped and stored == "<f4":
        assert not back.data.flags.writeable


def test_pixels_placed_by_coordinates_in_any_order_with_gaps(tmp_path):
    frame, spectra = _table(4)
    frame["pixel_x"] = [2, 0, 1, 0]
    frame["pixel_y"] = [0, 1, 1, 0]
    frame.sample(frac=1.0, random_state=1).to_csv(tmp_path / "t.csv", index=False)
    cube = read(tmp_path / "t.csv", image_shape=(2, 3))
    np.testing.assert_allclose(cube.data[0, 2], spectra[0], rtol=1e-6)
    np.testing.assert_allclose(cube.data[1, 0], spectra[1], rtol=1e-6)
    assert cube.mask.tolist() == [[True, False, True], [True, True, False]]
    assert cube.attrs["n_missing_pixels"] == 2


def test_wrong_image_shape_names_both_numbers_and_factor_pairs(tmp_path):
    frame, _ = _table(6)
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ShapeError, match=r"gives 9 pixels but t.csv has 6 spectra.*1x6, 2x3, 3x2, 6x1"):
        read(tmp_path / "t.csv", image_shape=(3, 3))
    with pytest.raises(ShapeError, match="no image_shape"):
        read(tmp_path / "t.csv")


def test_empty_file_and_header_only(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(FileFormatError, match="is empty"):
        read(tmp_path / "empty.csv", image_shape=(1, 1))
    (tmp_path / "header.csv").write_text("600,700\n")
    with pytest.raises(FileFormatError, match="no data rows"):
        read(tmp_path / "header.csv", image_shape=(1, 1))


def test_non_numeric_spectral_value_names_column_and_row(tmp_path):
    frame, _ = _table(4)
    frame["700.0"] = frame["700.0"].astype(object)
    frame.loc[2, "700.0"] = "n/a?"
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(FileFormatError, match=r"column '700.0', data row 3 holds 'n/a\?'"):
        read(tmp_path / "t.csv", image_shape=(2, 2))


def test_reversed_axis_sorted_with_warning_duplicates_refused(tmp_path):
    frame, spectra = _table(4, axis=(800.0, 700.0, 600.0))
    frame.to_csv(tmp_path / "rev.csv", index=False)
    with pytest.warns(AxisOrderWarning):
        cube = read(tmp_path / "rev.csv", image_shape=(2, 2))
    assert cube.axis.values.tolist() == [600.0, 700.0, 800.0]
    np.testing.assert_allclose(cube.pixels()[0], spectra[0][::-1], rtol=1e-6)
    (tmp_path / "dup.csv").write_text("600,700,700.0\n1,2,3\n")
    with pytest.raises(AxisError, match="duplicated values"):
        read(tmp_path / "dup.csv", image_shape=(1, 1))


def test_nan_pixels_are_masked_and_counted(tmp_path):
    frame, _ = _table(4)
    frame.loc[1, "600.0"] = np.nan
    frame.loc[3, "800.0"] = np.inf
    frame.to_csv(tmp_path / "t.csv", index=False)
    cube = read(tmp_path / "t.csv", image_shape=(2, 2))
    assert cube.mask.tolist() == [[True, False], [True, False]]
    assert cube.attrs["n_nonfinite_pixels"] == 2


def test_missing_file_unknown_option_and_unknown_format(tmp_path):
    with pytest.raises(InputFileNotFoundError, match="does not exist"):
        read(tmp_path / "nope.csv")
    frame, _ = _table(4)
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InvalidParameterError, match="Valid options are: image_shape"):
        read(tmp_path / "t.csv", imageshape=(2, 2))
    (tmp_path / "x.weird").write_text("hello")
    with pytest.raises(FileFormatError, match="No reader can open the file x.weird. Installed readers: csv-flat"):
        read(tmp_path / "x.weird")
    with pytest.raises(InvalidParameterError, match="Unknown reader 'spc-galactic'"):
        read(tmp_path / "t.csv", format="spc-galactic")


def test_hdf5_with_other_dataset_names(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    spectra = rng.normal(size=(6, 4)).astype(np.float32)
    with h5py.File(tmp_path / "other.h5", "w") as fh:
        fh["X"] = spectra
        fh["wl"] = np.array([400.0, 500.0, 600.0, 700.0])
    with pytest.raises(FileFormatError, match="has no dataset 'spectra'.*spectra_key="):
        read(tmp_path / "other.h5", image_shape=(2, 3))
    cube = read(tmp_path / "other.h5", image_shape=(2, 3), spectra_key="X", axis_key="wl", axis_unit="nm")
    assert cube.axis.unit == "nm" and cube.image_shape == (2, 3)
    np.testing.assert_array_equal(cube.data[1, 2], spectra[5])


def test_write_is_atomic(tmp_path, demo_cube, monkeypatch):
    import chemmap.io.flat_csv as flat_csv

    target = tmp_path / "out.csv"

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(flat_csv, "_csv_rows", boom)
    with pytest.raises(RuntimeError):
        flat_csv.write_flat_csv(demo_cube, target)
    assert list(tmp_path.iterdir()) == []


def test_two_spectral_columns_with_one_header_text_are_refused(tmp_path):
    (tmp_path / "dup.csv").write_text("pixel_x,pixel_y,600.5,606.03,606.03,612\n0,0,1,2,3,4\n1,0,1,2,3,4\n")
    with pytest.raises(FileFormatError, match="columns 4 and 5 are both headed '606.03'"):
        read(tmp_path / "dup.csv")


def test_a_european_table_with_decimal_commas_reads_as_the_same_table(tmp_path):
    frame, _ = _table(4, axis=(600.5, 700.25, 800.0))
    frame.to_csv(tmp_path / "dot.csv", index=False)
    # a spreadsheet's export: decimal commas in the values and in the axis headers
    (tmp_path / "comma.csv").write_text(frame.to_csv(index=False, sep=";").replace(".", ","))
    assert (tmp_path / "comma.csv").read_text().startswith("region;600,5;700,25;800,0\n")
    assert_cube_equal(read(tmp_path / "comma.csv", image_shape=(2, 2)), read(tmp_path / "dot.csv", image_shape=(2, 2)))


def test_a_mostly_empty_placement_warns_and_a_huge_one_is_refused_before_allocating(tmp_path):
    from chemmap import compute_settings
    from chemmap.core.exceptions import DataWarning, MemoryLimitError

    frame, _ = _table(6)
    frame["pixel_x"], frame["pixel_y"] = [0, 1, 2, 0, 1, 999], [0, 0, 0, 1, 1, 1]  # one stray coordinate
    frame.to_csv(tmp_path / "stray.csv", index=False)
    with pytest.warns(DataWarning, match=r"6 spectra fill 0.3 % of the 2 x 1000 image"):
        assert read(tmp_path / "stray.csv").image_shape == (2, 1000)
    frame["pixel_x"] = [0, 1, 2, 0, 1, 2]
    frame.to_csv(tmp_path / "full.csv", index=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert read(tmp_path / "full.csv").image_shape == (2, 3)
    frame["pixel_x"] = [0, 1, 2, 0, 1, 10**9]
    frame.to_csv(tmp_path / "huge.csv", index=False)
    with compute_settings(memory_limit="1GiB"), pytest.raises(MemoryLimitError, match=r"2 x 1000000001 image of 3"):
        read(tmp_path / "huge.csv")


_HEADER = "pixel_x,pixel_y,region,600.0,700.0,800.0"
PLAIN_AND_AWKWARD_TABLES = {
    "plain": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,5,6.25\n",
    "spaces after the commas": f"{_HEADER}\n0, 0, a, 1.5, 2, 3\n1, 0, b, 4, 5, 6.25\n",
    "quoted text with a comma": f'{_HEADER}\n0,0,"a, left",1.5,2,3\n1,0,b,4,5,6.25\n',
    "a hash in a label": f"{_HEADER}\n0,0,#1,1.5,2,3\n1,0,#2,4,5,6.25\n",
    "a blank line": f"{_HEADER}\n0,0,a,1.5,2,3\n\n1,0,b,4,5,6.25\n",
    "windows line ends": f"{_HEADER}\r\n0,0,a,1.5,2,3\r\n1,0,b,4,5,6.25\r\n",
    "tabs": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,5,6.25\n".replace(",", "\t"),
    "an empty cell later": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,,6.25\n",
    "an empty label later": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,,4,5,6.25\n",
    "NA in a spectrum": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,NA,6.25\n",
    "nan and inf": f"{_HEADER}\n0,0,a,nan,2,3\n1,0,b,4,inf,6.25\n",
    "text in a spectrum later": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,oops,6.25\n",
    "a numeric label": f"{_HEADER}\n0,0,7,1.5,2,3\n1,0,8,4,5,6.25\n",
    "a short last row": f"{_HEADER}\n0,0,a,1.5,2,3\n1,0,b,4,5\n",
    "a long row": f"{_HEADER}\n0,0,a,1.5,2,3,9\n1,0,b,4,5,6.25\n",
    "stage positions in micrometres": f"{_HEADER}\n0.0,0.0,a,1.5,2,3\n2.5,0.0,b,4,5,6.25\n",
    "a text spectrum header": "pixel_x,pixel_y,region,600.0,700.0,800.0\n0,0,a,x,2,3\n1,0,b,4,5,6.25\n",
}
#: Those left to pandas (empty or NA cells, text among numbers, rows of another width).
READ_BY_PANDAS = {
    "an empty cell later",
    "NA in a spectrum",
    "text in a spectrum later",
    "a short last row",
    "a long row",
    "a text spectrum header",
}


@pytest.mark.parametrize("name", list(PLAIN_AND_AWKWARD_TABLES))
def test_the_reader_without_pandas_reads_every_table_as_pandas_does(tmp_path, monkeypatch, name):
    """NumPy's reader takes the plain tables; what it does not take goes to pandas, so a table
    gives the same cube, or the same refusal, either way."""
    import chemmap.io.flat_csv as flat_csv

    path = tmp_path / "table.csv"
    path.write_text(PLAIN_AND_AWKWARD_TABLES[name])
    numpy_reader = flat_csv._plain_table
    header, first_row = flat_csv._first_lines(path)
    delimiter = flat_csv._sniff_delimiter(header, first_row)
    assert (numpy_reader(path, header, first_row, delimiter, ".") is None) == (name in READ_BY_PANDAS)
    answers = []
    for plain in (numpy_reader, lambda *args: None):
        monkeypatch.setattr(flat_csv, "_plain_table", plain)
        try:
            answers.append(read(path, label_column="region"))
        except FileFormatError as exc:
            answers.append(str(exc))
    fast, pandas_read = answers
    if isinstance(pandas_read, str):
        assert fast == pandas_read
        return
    assert_cube_equal(fast, pandas_read)
    assert fast.label_names == pandas_read.label_names
    assert fast.attrs == pandas_read.attrs


def test_a_plain_table_is_read_without_importing_pandas(tmp_path, demo_cube):
    import subprocess
    import sys

    write(demo_cube, tmp_path / "demo.csv", label_column="region")
    code = (
        "import sys; from chemmap.io import read; "
        f"cube = read({str(tmp_path / 'demo.csv')!r}, image_shape=(30, 30), label_column='region'); "
        "print('pandas' in sys.modules, cube.label_names[1])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "right"]


def _parquet_tables():
    pa = pytest.importorskip("pyarrow")
    spectra = {"600.0": [1.5, 2.0], "700.0": [4.0, None], "800.0": [3.0, 6.25]}
    return {
        "float64 with a null": pa.table({"pixel_x": [0, 1], "pixel_y": [0, 0], "region": ["a", None], **spectra}),
        "float32": pa.table(
            {"pixel_x": [0, 1], "pixel_y": [0, 0], **{k: pa.array([1.5, 2.0], pa.float32()) for k in spectra}}
        ),
        "integer counts and a unit": pa.table(
            {"pixel_x": [0, 1], "pixel_y": [0, 0], "axis_unit": ["keV", None], "600.0": [1, 2], "700.0": [3, 4]}
        ),
        "numbers written as text": pa.table({"pixel_x": [0, 1], "pixel_y": [0, 0], "600.0": ["1.5", "2"]}),
        "a label of integers with a null": pa.table(
            {"pixel_x": [0, 1], "pixel_y": [0, 0], "region": [3, None], "600.0": [1.0, 2.0]}
        ),
        "spectra under names, with the axis given": pa.table(
            {"pixel_x": [0, 1], "pixel_y": [0, 0], "band_a": [1.0, 2.0], "band_b": pa.array([3, 4], pa.int16())}
        ),
    }


@pytest.mark.parametrize("name", ["float64 with a null", "float32", "integer counts and a unit",
                                  "numbers written as text", "a label of integers with a null",
                                  "spectra under names, with the axis given"])  # fmt: skip
def test_a_parquet_table_read_from_its_arrays_is_the_cube_pandas_gives(tmp_path, monkeypatch, name):
    import pyarrow.parquet as pq

    import chemmap.io.parquet as parquet

    table = _parquet_tables()[name]
    pq.write_table(table, tmp_path / "t.parquet")
    options = {"label_column": "region" if "region" in table.column_names else None}
    if "band_a" in table.column_names:
        options.update(spectral_columns=["band_a", "band_b"], axis=[600.0, 700.0])
    arrays = parquet._as_arrays(pq.ParquetFile(tmp_path / "t.parquet"), tmp_path / "t.parquet")
    assert (arrays is None) == (name == "numbers written as text")  # text that holds numbers: pandas converts it
    direct = read(tmp_path / "t.parquet", **options)
    monkeypatch.setattr(parquet, "_as_arrays", lambda table, path: None)
    through_pandas = read(tmp_path / "t.parquet", **options)
    assert_cube_equal(direct, through_pandas)
    assert direct.label_names == through_pandas.label_names
    assert direct.axis.unit == through_pandas.axis.unit


def test_a_float32_or_16_bit_cube_is_written_to_parquet_as_float32(tmp_path, demo_cube):
    """The table holds the spectra as float32 where that keeps every value (half the file and
    memory of float64); wider integers stay float64."""
    pq = pytest.importorskip("pyarrow.parquet")
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    counts = Cube(
        (np.arange(4 * 5 * 3) * 1000).reshape(4, 5, 3).astype(np.uint32), SpectralAxis([1.0, 2.0, 3.0], "keV")
    )
    for cube, expected in ((demo_cube, "float"), (counts.replace(data=counts.data.astype(np.uint16)), "float"),
                           (counts, "double")):  # fmt: skip
        write(cube, tmp_path / "t.parquet")
        schema = pq.read_schema(tmp_path / "t.parquet")
        assert {str(schema.field(name).type) for name in schema.names if name[0].isdigit()} == {expected}
        back = read(tmp_path / "t.parquet")
        np.testing.assert_array_equal(back.data, np.asarray(cube.data, dtype=np.float32))
        assert back.axis == cube.axis
        (tmp_path / "t.parquet").unlink()


def test_a_dataframe_of_nullable_integers_masks_the_pixel_with_a_missing_count():
    table = pd.DataFrame(
        {"pixel_x": [0, 1], "pixel_y": [0, 0], "600.0": pd.array([1, None], dtype="Int64"), "700.0": [1.0, 2.0]}
    )
    cube = read(table)
    assert cube.valid_pixels().tolist() == [True, False]
    assert cube.data[0, 0].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_written_by_blocks_of_pixels_is_the_table_written_at_once(tmp_path, monkeypatch, demo_cube, suffix):
    """The writers stream blocks of pixels (a Parquet row group each); a table written in
    seven blocks reads back as the one written in one, masked pixels and labels included."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    import chemmap.io._table as table

    mask = np.ones(demo_cube.image_shape, dtype=bool)
    mask[3, 4] = mask[29, 29] = False
    cube = demo_cube.replace(mask=mask)
    write(cube, tmp_path / f"whole{suffix}", label_column="region")
    monkeypatch.setattr(table, "TABLE_BLOCK_BYTES", 130 * cube.n_channels * 4)  # 130 pixels a block
    if suffix == ".parquet":
        import chemmap.io.parquet as parquet

        monkeypatch.setattr(parquet, "BATCH_ROWS", 100)  # read back by batches across the row groups
    write(cube, tmp_path / f"blocks{suffix}", label_column="region")
    if suffix == ".csv":
        assert (tmp_path / "blocks.csv").read_text() == (tmp_path / "whole.csv").read_text()
    else:
        import pyarrow.parquet as pq

        assert pq.ParquetFile(tmp_path / "blocks.parquet").num_row_groups == 7
    back = read(tmp_path / f"blocks{suffix}", label_column="region")
    assert_cube_equal(back, read(tmp_path / f"whole{suffix}", label_column="region"))
    assert back.valid_pixels().tolist() == mask.reshape(-1).tolist()
    np.testing.assert_allclose(back.pixels()[mask.reshape(-1)], cube.pixels()[mask.reshape(-1)], rtol=1e-6)
    assert back.label_names == {0: "left", 1: "right"}


def test_the_csv_writer_writes_what_pandas_writes_for_the_same_table(tmp_path, monkeypatch):
    """The CSV is formatted by NumPy and ``%`` a piece at a time: the bytes pandas' ``to_csv``
    writes for the same columns (quoted names, empty cells for NaN, ``inf``), and names with a
    comma, a quote, a line end or the letters ``nan`` read back as they were written."""
    import chemmap.io.flat_csv as flat_csv
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    rng = np.random.default_rng(3)
    data = rng.normal(size=(5, 7, 6)) * 1e5
    data[1, 2] = np.inf
    data[2, 3, 1] = -np.inf
    names = {0: "a,b", 1: 'say "hi"', 2: "line\nbreak", 3: "banana"}
    mask = np.ones((5, 7), dtype=bool)
    mask[4, 6] = False
    cube = Cube(
        data,
        SpectralAxis(np.linspace(0.5, 9.75, 6), "keV"),
        mask=mask,
        labels=rng.integers(-1, 4, (5, 7)),
        label_names=names,
    )
    monkeypatch.setattr(flat_csv, "CSV_TEXT_BYTES", 3 * 6 * flat_csv.CSV_VALUE_BYTES)  # three rows a piece
    write(cube, tmp_path / "t.csv", label_column="kind")
    pixels = np.where(mask.reshape(-1, 1), data.reshape(-1, 6), np.nan)
    ids = np.arange(35)
    frame = pd.DataFrame({"pixel_id": ids, "pixel_x": ids % 7, "pixel_y": ids // 7, "axis_unit": "keV"})
    frame["kind"] = [names.get(v, "") for v in cube.labels.reshape(-1)]
    frame = pd.concat([frame, pd.DataFrame(pixels, columns=[repr(float(v)) for v in cube.axis.values])], axis=1)
    assert (tmp_path / "t.csv").read_bytes() == frame.to_csv(
        index=False, float_format="%.9g", lineterminator="\n"
    ).encode()
    back = read(tmp_path / "t.csv", label_column="kind", image_shape=(5, 7))
    assert set(back.label_names.values()) == set(names.values())
    assert back.valid_pixels().tolist() == np.isfinite(pixels).all(axis=1).tolist()  # masked, or read as NaN/Inf
