"""Importing a user's CSV or .npz file as a data set (`datasets.imported`, `datasets.table`).

Every good file imports to exactly the arrays it holds; every bad one is refused with one line
naming the file, the line and the column, and leaves the cache as it was.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from nnstudio.datasets import DatasetError, dataset_names, import_file, imported_names, load_dataset, remove_imported
from nnstudio.datasets import table as table_module
from nnstudio.datasets.imported import imported_folder, imported_root, suggested_name

IRIS = """sepal_length,sepal_width,petal_length,species
5.1,3.5,1.4,setosa
4.9,3.0,1.4,setosa
4.7,3.2,1.3,setosa
5.0,3.6,1.4,setosa
7.0,3.2,4.7,versicolor
6.4,3.2,4.5,versicolor
6.9,3.1,4.9,versicolor
5.5,2.3,4.0,versicolor
6.3,3.3,6.0,virginica
5.8,2.7,5.1,virginica
7.1,3.0,5.9,virginica
6.3,2.9,5.6,virginica
"""


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def all_rows(dataset):
    """Train and test rows together, sorted, so a split does not matter to a comparison."""
    x = np.concatenate([dataset.x_train, dataset.x_test]).astype(np.float64)
    y = np.concatenate([dataset.y_train, dataset.y_test])
    order = np.lexsort(x.T[::-1])
    return x[order], y[order]


# ====================================================================== good files
def test_a_csv_with_class_names_imports_as_a_classification_set(tmp_path):
    made = import_file("iris", write(tmp_path, IRIS))
    assert made.task == "classification" and made.class_names == ("setosa", "versicolor", "virginica")
    assert made.task_reason == "the target is text"
    dataset = load_dataset("iris")
    assert "iris" in dataset_names() and "iris" in imported_names()
    assert dataset.class_names == ("setosa", "versicolor", "virginica")
    assert dataset.feature_names == ("sepal_length", "sepal_width", "petal_length")
    assert dataset.standardize == "per-feature" and dataset.image_shape is None
    x, y = all_rows(dataset)
    rows = [line.split(",") for line in IRIS.strip().splitlines()[1:]]
    expected = sorted(((tuple(float(v) for v in r[:3]), r[3]) for r in rows))
    assert np.allclose(x, [e[0] for e in expected])
    assert [dataset.class_names[c] for c in y] == [e[1] for e in expected]


def test_the_test_split_is_stratified_and_seeded(tmp_path):
    lines = ["a,b,label"] + [f"{i},{i % 7},{'xyz'[i % 3]}" for i in range(300)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    made = import_file("strat", path, test_fraction=0.2, seed=3)
    assert (made.train_rows, made.test_rows) == (240, 60)
    dataset = load_dataset("strat")
    assert np.bincount(dataset.y_test).tolist() == [20, 20, 20]
    first = dataset.x_test.copy()
    import_file("strat", path, test_fraction=0.2, seed=3, replace=True)
    assert np.array_equal(load_dataset("strat").x_test, first)
    import_file("strat", path, test_fraction=0.2, seed=4, replace=True)
    assert not np.array_equal(load_dataset("strat").x_test, first)


@pytest.mark.parametrize("targets, task, classes", [
    (["0", "1", "2", "1"] * 5, "classification", ("0", "1", "2")),
    ([str(0.5 * i) for i in range(20)], "regression", ()),
    ([str(i) for i in range(40)], "regression", ()),     # whole numbers, but too many to be classes
])
def test_the_task_is_guessed_from_the_target(tmp_path, targets, task, classes):
    text = "x,y\n" + "".join(f"{i},{t}\n" for i, t in enumerate(targets))
    made = import_file("guess", write(tmp_path, text))
    assert made.task == task and made.class_names == classes
    dataset = load_dataset("guess")
    if task == "regression":
        assert dataset.y_train.dtype == np.float32 and dataset.y_train.shape[1] == 1
        assert sorted(np.concatenate([dataset.y_train[:, 0], dataset.y_test[:, 0]]).tolist()) == \
            sorted(float(t) for t in targets)


def test_the_task_can_be_forced(tmp_path):
    text = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30))
    assert import_file("forced", write(tmp_path, text), task="regression").task == "regression"
    with pytest.raises(DatasetError, match="regression target must be numbers"):
        import_file("words", write(tmp_path, IRIS), task="regression")


def test_target_by_name_and_ignored_columns(tmp_path):
    text = "id,species,width,height,comment\n" + "".join(
        f"{i},{'ab'[i % 2]},{i * 0.5},{i % 4},note {i}\n" for i in range(20))
    made = import_file("named", write(tmp_path, text), target="Species", ignore=("id", "comment"))
    assert made.features == 2 and made.class_names == ("a", "b")
    assert load_dataset("named").feature_names == ("width", "height")


def test_a_column_named_label_is_the_target_wherever_it_is(tmp_path):
    """MNIST as CSV puts its label first: with 784 pixels and --image, the last pixel must not become the target."""
    text = "label," + ",".join(f"p{i}" for i in range(4)) + "\n" + "".join(
        f"{i % 2}," + ",".join(str((i * 7 + j) % 256) for j in range(4)) + "\n" for i in range(20))
    made = import_file("first", write(tmp_path, text), image=(2, 2))
    assert made.target == "label" and made.class_names == ("0", "1") and "target 'label'" in made.describe()
    assert import_file("other", write(tmp_path, text), target="p3").target == "p3"   # (named: as named)


def test_text_features_are_found_in_the_first_rows(tmp_path):
    path = write(tmp_path, 'id,city,age,"name, full",label\n1,Paris,30,"Doe, J",0\n2,,NA,Roe,1\n3,Rome,41,x,0\n')
    open_table = table_module.open_table
    assert open_table(path).text_features() == ("city", "name, full")   # (empty and NA are missing, not text)
    assert open_table(path, ignore=["city"]).text_features() == ("name, full",)
    assert open_table(write(tmp_path, IRIS)).text_features() == ()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_read_from_the_header(tmp_path, delimiter):
    text = IRIS.replace(",", delimiter)
    assert import_file("delim", write(tmp_path, text)).features == 3


def test_quotes_crlf_bom_blank_lines_and_gzip(tmp_path):
    text = '\ufeff"a","b","kind"\r\n"1.5",2,"big one"\r\n\r\n3,4,"small, really"\r\n' + \
           "".join(f"{i},{i},big one\r\n" for i in range(5, 15)) + "\r\n\r\n"
    made = import_file("quoted", write(tmp_path, text))
    assert made.class_names == ("big one", "small, really") and made.train_rows + made.test_rows == 12
    assert "2 classes ('big one', 'small, really')" in made.describe()   # (quoted: a comma is in a name)
    packed = tmp_path / "iris.csv.gz"
    packed.write_bytes(gzip.compress(IRIS.encode()))
    assert import_file("packed", packed).class_names == ("setosa", "versicolor", "virginica")


def test_a_separate_test_file(tmp_path):
    train = write(tmp_path, IRIS)
    test = write(tmp_path, "sepal_length,sepal_width,petal_length,species\n5,3,1,setosa\n7,3,6,virginica\n",
                 "test.csv")
    made = import_file("split", train, test_file=test)
    assert (made.train_rows, made.test_rows) == (12, 2)
    assert load_dataset("split").y_test.tolist() == [0, 2]
    other = write(tmp_path, "a,b,c,d\n1,2,3,x\n", "other.csv")
    with pytest.raises(DatasetError, match=r"other columns than .* \(no 'sepal_length', .*; 'a', 'b', 'c', 'd' are "
                                           r"extra\)"):
        import_file("split2", train, test_file=other)


def test_missing_values_are_refused_or_dropped(tmp_path):
    text = IRIS.replace("4.9,3.0,1.4,setosa", "4.9,,1.4,setosa").replace("6.4,3.2,4.5", "6.4,NA,4.5")
    path = write(tmp_path, text)
    with pytest.raises(DatasetError) as refused:
        import_file("gaps", path)
    assert str(refused.value) == (f"{path}, line 3, column 'sepal_width' is empty; fill it in, or leave such rows "
                                  f"out with --drop-missing")
    assert "gaps" not in imported_names()
    made = import_file("gaps", path, drop_missing=True)
    assert made.dropped == 2 and made.train_rows + made.test_rows == 10


def test_images_declared_with_their_size(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(30, 16))
    labels = np.arange(30) % 3
    header = ",".join(f"p{i}" for i in range(16)) + ",digit\n"
    text = header + "".join(",".join(map(str, row)) + f",{label}\n" for row, label in zip(pixels, labels))
    made = import_file("tiny", write(tmp_path, text), image=(4, 4))
    assert made.image_shape == (1, 4, 4)
    dataset = load_dataset("tiny", layout="image")
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.shape[1:] == (1, 4, 4)
    assert dataset.standardize is None and dataset.input_shape == (1, 4, 4)
    assert sorted(map(tuple, np.concatenate([dataset.x_train, dataset.x_test]).reshape(30, 16))) == \
        sorted(map(tuple, pixels))
    with pytest.raises(DatasetError, match="needs 9 feature columns, but there are 16"):
        import_file("tiny3", write(tmp_path, text), image=(3, 3))
    bad = text.replace(header, header, 1).splitlines()
    bad[5] = "300" + bad[5][bad[5].index(","):]
    with pytest.raises(DatasetError, match="line 6, column 'p0': 300 is not a pixel value"):
        import_file("tiny4", write(tmp_path, "\n".join(bad) + "\n", "bad.csv"), image=(4, 4))


def test_npz_with_text_labels_and_its_own_test_split(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "points.npz"
    np.savez(path, x=rng.normal(size=(40, 2)), y=np.array(["cat", "dog"] * 20),
             x_test=rng.normal(size=(10, 2)), y_test=np.array(["dog", "cat"] * 5))
    made = import_file("pets", path)
    assert made.class_names == ("cat", "dog") and (made.train_rows, made.test_rows) == (40, 10)
    dataset = load_dataset("pets")
    assert dataset.y_test.tolist() == [1, 0] * 5


def test_npz_images_get_their_shape(tmp_path):
    path = tmp_path / "pictures.npz"
    np.savez(path, x=np.random.default_rng(2).integers(0, 256, (20, 28, 28)).astype(np.uint8), y=np.arange(20) % 2)
    made = import_file("pics", path)
    assert made.image_shape == (1, 28, 28)
    assert load_dataset("pics").x_train.shape[1] == 784


@pytest.mark.parametrize("arrays, fault", [
    ({"x": np.zeros((4, 2))}, "has no array 'y'"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(3)}, "x has 4 examples but y has 3 targets"),
    ({"x": np.zeros((4, 2)), "y": np.arange(4), "x_test": np.zeros((2, 2))}, "x_test without its partner"),
    ({"x": np.array([[1.0, np.nan]] * 4), "y": np.arange(4)}, "row 0 has a missing or infinite value"),
    ({"x": np.zeros(4), "y": np.arange(4)}, "needs one row per example"),
    ({"x": np.full((4, 2, 2), 0.5), "y": np.arange(4)}, r"x read as 2x2 images needs whole numbers .* give it as \(N, "
                                                        r"features\)"),
])
def test_bad_npz_files(tmp_path, arrays, fault):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=fault):
        import_file("bad", path)
    assert imported_names() == []


def test_a_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}] * 3, dtype=object), y=np.arange(3))
    with pytest.raises(DatasetError, match="Python objects"):
        import_file("objects", path)


# ====================================================================== bad files: one line each, nothing left
def bad_csv_cases(tmp_path):
    return [
        ("", "is empty: a CSV needs a header line"),
        ("1.0,2.0,0\n3.0,4.0,1\n", "has no header line: its first line is numbers (1.0, 2.0, 0); add a first line"),
        ("a,b,label\n", "has a header line but no rows of data"),
        ("a,b,label\n1,2,0\n3,4\n", "line 3: 2 values, but the header names 3 columns"),
        ("a,b,label\n1,2,0\n3,hello,1\n", "line 3, column 'b': 'hello' is not a number; features must be numbers: "
                                          "drop the column (--ignore b) or encode it"),
        ("a,b,label\n1,2,x\n3,4,x\n", "the target 'label' holds one class ('x') in every row"),
        ("a,,label\n1,2,0\n", "column 2 has no name"),
        ("a,a,label\n1,2,0\n", "names 'a' twice"),
        ("a,b,label\n1,inf,0\n2,3,1\n", "'inf' is not a finite number"),
        ("a,b,label\n1,1e999,0\n2,3,1\n", "is not a finite number"),
        ("a,b,label\n1,1e39,0\n2,3,1\n", "too large for a 32-bit float"),
    ]


def test_each_bad_csv_is_refused_in_one_line_naming_the_file(tmp_path):
    for n, (text, fault) in enumerate(bad_csv_cases(tmp_path)):
        path = write(tmp_path, text, f"bad{n}.csv")
        with pytest.raises(DatasetError) as refused:
            import_file(f"bad{n}", path)
        message = str(refused.value)
        assert fault in message, (text, message)
        assert str(path) in message and "\n" not in message
    assert imported_names() == [] and [p.name for p in imported_root().iterdir()] == []


def test_a_column_that_does_not_exist_gets_a_did_you_mean(tmp_path):
    path = write(tmp_path, IRIS)
    with pytest.raises(DatasetError, match=r"has no column 'specie' \(did you mean 'species'\?\); its columns: "
                                           r"sepal_length, sepal_width, petal_length, species"):
        import_file("iris", path, target="specie")
    with pytest.raises(DatasetError, match="has no column 'idd'"):
        import_file("iris", path, ignore=("idd",))


def test_files_that_are_not_text(tmp_path):
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02binary" * 100)
    with pytest.raises(DatasetError, match="is not a text file .it holds NUL bytes."):
        import_file("binary", binary)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b,label\n1,2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"is not UTF-8 text \(byte 17, line 2\)"):
        import_file("latin", latin)
    with pytest.raises(DatasetError, match="does not exist"):
        import_file("absent", tmp_path / "absent.csv")
    with pytest.raises(DatasetError, match="is a folder"):
        import_file("folder", tmp_path)


def test_a_file_past_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path, IRIS)
    monkeypatch.setenv("NNSTUDIO_IMPORT_LIMIT", "100")
    with pytest.raises(DatasetError, match=r"is 3\d\d bytes, more than the import limit of 100 bytes; use a sample "
                                           r"of it, or raise the limit with NNSTUDIO_IMPORT_LIMIT"):
        import_file("big", path)


@pytest.mark.parametrize("name", ["MNIST", "my data", "-x", "a" * 41, ""])
def test_bad_names(tmp_path, name):
    with pytest.raises(DatasetError, match="cannot name a data set"):
        import_file(name, write(tmp_path, IRIS))


def test_csv_options_given_with_an_npz_are_refused_not_ignored(tmp_path):
    path = tmp_path / "points.npz"
    np.savez(path, x=np.random.default_rng(1).normal(size=(40, 2)), y=np.arange(40) % 2)
    with pytest.raises(DatasetError, match=r"points.npz is an .npz: --test-file, --target are for CSV files"):
        import_file("points", path, test_file=write(tmp_path, IRIS), target="y")
    assert imported_names() == []


def test_a_built_in_name_is_reserved_and_an_existing_one_needs_replace(tmp_path):
    path = write(tmp_path, IRIS)
    with pytest.raises(DatasetError, match="spirals is a built-in data set"):
        import_file("spirals", path)
    import_file("iris", path)
    with pytest.raises(DatasetError, match="already imported"):
        import_file("iris", path)


def test_a_failed_replace_keeps_the_old_set(tmp_path):
    import_file("iris", write(tmp_path, IRIS))
    with pytest.raises(DatasetError):
        import_file("iris", write(tmp_path, "a,b\n1,x\n", "bad.csv"), replace=True)
    assert load_dataset("iris").class_names == ("setosa", "versicolor", "virginica")
    assert sorted(p.name for p in imported_root().iterdir()) == ["iris"]


def test_remove(tmp_path):
    import_file("iris", write(tmp_path, IRIS))
    remove_imported("iris")
    assert imported_names() == [] and not imported_folder("iris").exists()
    with pytest.raises(DatasetError, match="no imported data set named iris"):
        remove_imported("iris")
    with pytest.raises(DatasetError, match=r"unknown data set 'iris'.*nnstudio data import iris FILE \(.csv or .npz\)"):
        load_dataset("iris")


def test_a_damaged_record_says_to_import_again(tmp_path):
    import_file("iris", write(tmp_path, IRIS))
    (imported_folder("iris") / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="import iris again with --replace"):
        load_dataset("iris")
    (imported_folder("iris") / "dataset.json").write_text(json.dumps({"format": 1}))
    with pytest.raises(DatasetError, match="damaged"):
        load_dataset("iris")


def test_suggested_names():
    assert suggested_name("/data/Iris Data.csv") == "iris-data"
    assert suggested_name("train.csv.gz") == "train"
    assert suggested_name("###.csv") == "mydata"
    assert suggested_name("moons.csv", taken=("moons",)) == "moons-2"


# ====================================================================== streaming
def test_a_file_streams_in_chunks_with_progress_and_problems_found_in_later_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(table_module, "CHUNK_BYTES", 2048)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 3)).round(4)
    y = (x[:, 0] > 0).astype(int)
    lines = ["a,b,c,label"] + [f"{p},{q},{r},{t}" for (p, q, r), t in zip(x, y)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    seen = []
    made = import_file("streamed", path, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert len(seen) > 20 and seen[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    assert made.train_rows + made.test_rows == 3000
    got_x, got_y = all_rows(load_dataset("streamed"))
    order = np.lexsort(x.T[::-1])
    assert np.allclose(got_x, x[order], atol=1e-6) and np.array_equal(got_y, y[order])
    wrong = list(lines)
    wrong[2500] = wrong[2500].replace(",", ",oops", 1)
    with pytest.raises(DatasetError, match="line 2501, column 'b': 'oops"):
        import_file("late", write(tmp_path, "\n".join(wrong) + "\n", "late.csv"))
    wrong = list(lines)   # (the first 64 KB say the target is numbers: a word far below is a mistake)
    wrong[2999] = wrong[2999].rsplit(",", 1)[0] + ",cat"
    with pytest.raises(DatasetError, match="line 3000, column 'label': 'cat' is not a number, but the target's "
                                           "first rows are numbers"):
        import_file("late", write(tmp_path, "\n".join(wrong) + "\n", "late.csv"))
    assert imported_names() == ["streamed"]


# ====================================================================== the parser, generated files
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_VALUES = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@st.composite
def tables(draw):
    """A table as text, and the features and targets it holds."""
    rows = draw(st.integers(5, 40))
    width = draw(st.integers(1, 4))
    names = draw(st.lists(_NAMES, min_size=width + 1, max_size=width + 1, unique=True).filter(   # (the target: last)
        lambda names: not any(name.lower() in table_module.TARGET_NAMES for name in names[:-1])))
    x = np.array(draw(st.lists(st.lists(_VALUES, min_size=width, max_size=width), min_size=rows, max_size=rows)),
                 dtype=np.float32)
    words = draw(st.booleans())
    labels = draw(st.lists(st.sampled_from(["red", "green", "blue sky"] if words else ["0", "1", "2"]),
                           min_size=rows, max_size=rows).filter(lambda ls: len(set(ls)) >= 2))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    style = draw(st.sampled_from(["{!r}", "{:.9g}", "{:.8e}"]))
    quote = draw(st.booleans())

    def cell(text):
        return f'"{text}"' if quote else text

    lines = [delimiter.join(cell(n) for n in names)]
    for row, label in zip(x, labels):
        lines.append(delimiter.join([cell(style.format(float(v))) for v in row] + [cell(label)]))
    return newline.join(lines) + newline, x, labels


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_any_generated_table_imports_to_exactly_its_values(tmp_path, monkeypatch, table):
    text, x, labels = table
    monkeypatch.setattr(table_module, "CHUNK_BYTES", 256)   # several chunks, even for small tables
    path = tmp_path / "generated.csv"
    path.write_text(text, encoding="utf-8", newline="")
    made = import_file("generated", path, replace=True, test_fraction=0.25)
    dataset = load_dataset("generated")
    got_x, got_y = all_rows(dataset)
    order = np.lexsort(x.astype(np.float64).T[::-1])
    assert np.array_equal(got_x, x[order].astype(np.float64))
    names = [dataset.class_names[c] for c in got_y]
    assert sorted(names) == sorted(labels)   # (duplicates of x may pair labels in either order)
    assert made.class_names == tuple(sorted(set(labels)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_imports_or_is_refused_with_one_line(tmp_path, content):
    path = tmp_path / "anything.csv"
    path.write_bytes(content)
    try:
        import_file("anything", path, replace=True)
    except DatasetError as error:
        assert "\n" not in str(error) and str(error)
    leftovers = [p.name for p in imported_root().iterdir() if p.name != "anything"]
    assert leftovers == []
