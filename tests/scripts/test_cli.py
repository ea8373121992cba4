import subprocess
import sys

from jeeves import cli


def test_no_subcommand_prints_usage(capsys):
    assert cli.main([]) == 2
    assert "usage: jeeves" in capsys.readouterr().out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "jeeves.cli"], capture_output=True, text=True)
    assert "usage: jeeves" in result.stdout


def test_unknown_subcommand_is_one_error_line():
    result = subprocess.run(
        [sys.executable, "-m", "jeeves.cli", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr


def test_user_error_under_python_m_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jeeves.cli", "parse", "--input", str(tmp_path / "missing"),
         "--output", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("jeeves parse: error: input not found")
