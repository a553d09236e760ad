import zipfile

from tickstack.deploy import package as build_lambda


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
    first = build_lambda.build(tmp_path / "a.zip", package, vendored=(), client_services=())
    (package / "handler.py").touch()  # a newer mtime alone must not change the package
    second = build_lambda.build(tmp_path / "b.zip", package, vendored=(), client_services=())
    assert first == second


def test_changed_source_changes_the_hash(tmp_path):
    package = make_package(tmp_path / "src")
    first = build_lambda.build(tmp_path / "a.zip", package, vendored=(), client_services=())
    make_package(tmp_path / "src", source="X = 2\n")
    assert build_lambda.build(tmp_path / "b.zip", package, vendored=(), client_services=()) != first


def test_package_holds_only_sources_under_the_package_name(tmp_path):
    package = make_package(tmp_path / "src")
    build_lambda.build(tmp_path / "a.zip", package, vendored=(), client_services=())
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == ["stock_pipeline/__init__.py", "stock_pipeline/handler.py"]


def test_the_real_package_has_both_handlers_and_what_they_import(tmp_path):
    first = build_lambda.build(tmp_path / "real.zip")
    names = zipfile.ZipFile(tmp_path / "real.zip").namelist()
    assert "stock_pipeline/process_stock_data.py" in names
    assert "stock_pipeline/stock_trend_analysis.py" in names
    assert "aws_lambda_powertools/utilities/batch/__init__.py" in names
    assert "typing_extensions.py" in names and "jmespath/__init__.py" in names
    assert "aws_xray_sdk/core/__init__.py" in names and "wrapt/__init__.py" in names
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("boto")]
    assert build_lambda.build(tmp_path / "again.zip") == first


def test_the_package_runs_the_handlers_without_the_environment_site_packages(tmp_path):
    """Imported from the zip alone (plus boto3, as on Lambda): nothing is missing from the package."""
    import subprocess
    import sys

    build_lambda.build(tmp_path / "real.zip")
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "import stock_pipeline.process_stock_data, stock_pipeline.stock_trend_analysis, aws_lambda_powertools;"
        "import aws_xray_sdk, wrapt;"
        "assert all(m.__file__.startswith(sys.argv[1]) for m in (aws_lambda_powertools, aws_xray_sdk, wrapt)),"
        "[m.__file__ for m in (aws_lambda_powertools, aws_xray_sdk, wrapt)]"
    )
    subprocess.run([sys.executable, "-c", probe, str(tmp_path / "real.zip")], check=True, cwd=tmp_path)
