import importlib.util
import zipfile

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("build_lambda", ROOT / "scripts" / "build_lambda.py")
build_lambda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_lambda)


def make_package(root, source="X = 1\n"):
    package = root / "stock_pipeline"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text(source)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0junk")
    return package


def test_same_sources_give_the_same_bytes(tmp_path):
    package = make_package(tmp_path / "src")
    first = build_lambda.build(tmp_path / "a.zip", package)
    (package / "handler.py").touch()  # a newer mtime alone must not change the package
    second = build_lambda.build(tmp_path / "b.zip", package)
    assert first == second


def test_changed_source_changes_the_hash(tmp_path):
    package = make_package(tmp_path / "src")
    first = build_lambda.build(tmp_path / "a.zip", package)
    make_package(tmp_path / "src", source="X = 2\n")
    assert build_lambda.build(tmp_path / "b.zip", package) != first


def test_package_holds_only_sources_under_the_package_name(tmp_path):
    package = make_package(tmp_path / "src")
    build_lambda.build(tmp_path / "a.zip", package)
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == ["stock_pipeline/__init__.py", "stock_pipeline/handler.py"]


def test_the_real_package_has_both_handlers(tmp_path):
    build_lambda.build(tmp_path / "real.zip")
    names = zipfile.ZipFile(tmp_path / "real.zip").namelist()
    assert "stock_pipeline/process_stock_data.py" in names
    assert "stock_pipeline/stock_trend_analysis.py" in names
