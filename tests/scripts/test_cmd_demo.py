from jeeves import cli


def test_demo_without_its_corpus_says_how_to_get_it(tmp_path, capsys):
    status = cli.main(["demo", "--input", str(tmp_path / "missing"),
                       "--output", str(tmp_path / "out")])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "make demo" in error[0]
