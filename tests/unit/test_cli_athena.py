from typer.testing import CliRunner

from tickstack.cli import app

runner = CliRunner()


def test_without_a_name_the_queries_are_listed():
    result = runner.invoke(app, ["athena"])
    assert result.exit_code == 0
    for name in ("latest", "top_movers", "average_volume", "anomalies", "sma_crosses"):
        assert name in result.stdout


def test_an_unknown_query_is_refused_with_the_known_names():
    result = runner.invoke(app, ["athena", "nosuch"])
    assert result.exit_code == 1
    assert "no query named 'nosuch'" in result.output and "sma_crosses" in result.output
