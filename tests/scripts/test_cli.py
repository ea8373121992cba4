import os
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


def test_stage_commands_do_not_import_the_training_libraries(tmp_path):
    """`jeeves parse`, `features` and `graph`, and `jeeves run` without
    --labels (validating its training options all the same), run without
    scikit-learn, scipy or matplotlib (one to two seconds of start-up each):
    their options live in jeeves.models.defaults, the models are named in
    jeeves.models.registry without building them, the training code is
    imported by the functions that train."""
    from tests.helpers import REPO

    mail = os.path.join(REPO, "tests", "fixtures", "mail", "html_only.eml")
    out = str(tmp_path / "out")
    code = (
        "import sys\n"
        "from jeeves.cli import main\n"
        "assert main(['parse', '--input', %r, '--output', %r]) == 0\n"
        "assert main(['features', '--input', %r, '--output', %r]) == 0\n"
        "assert main(['graph', '--input', %r, '--output', %r]) == 0\n"
        "assert main(['run', '--input', %r, '--output', %r, '--no-graph',\n"
        "             '--min-df', '1', '--max-df', '1.0', '--models', 'fast',\n"
        "             '--feature-groups', 'text,lsa']) == 0\n"
        "heavy = ('sklearn', 'scipy', 'matplotlib')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
        % (mail, out, out + "/messages", out, out + "/messages", out, mail, out + "/run"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_run_refuses_a_bad_training_option_without_labels_too(tmp_path):
    """Validating the training options without scikit-learn still refuses a
    bad one, in one line."""
    from tests.helpers import REPO

    mail = os.path.join(REPO, "tests", "fixtures", "mail", "html_only.eml")
    result = subprocess.run(
        [sys.executable, "-m", "jeeves.cli", "run", "--input", mail, "--output",
         str(tmp_path / "out"), "--models", "logistic_regression,bogus"],
        capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--models" in result.stderr and "bogus" in result.stderr
