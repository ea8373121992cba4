"""jeeves.features.htmltext and jeeves.features.quoting: the text parts of a record."""

from jeeves.features.htmltext import html_to_text
from jeeves.features.quoting import split_reply


def test_html_to_text_drops_scripts_and_keeps_blocks():
    html = ("<html><head><title>t</title><style>p{}</style></head><body>"
            "<p>One&nbsp;&amp;&#32;two</p><script>var x;</script><ul><li>a</li><li>b</li></ul>"
            "</body></html>")
    assert html_to_text(html) == "One & two\n\na\n\nb"


def test_html_to_text_survives_broken_markup():
    text = html_to_text("<p>unclosed <b>bold <div>and <<weird> text")
    assert text.startswith("unclosed bold\nand ") and text.endswith(" text")


def test_plain_message_has_no_history():
    assert split_reply("Hello,\n\nsee you.\n") == ("Hello,\n\nsee you.", "", None)


def test_original_message_marker():
    new, quoted, signature = split_reply(
        "Fine by me.\n\n -----Original Message-----\nFrom: x\n\nold text")
    assert new == "Fine by me."
    assert quoted.startswith(" -----Original Message-----")
    assert signature is None


def test_outlook_header_block_and_forwarded_message():
    new, quoted, _ = split_reply("ok\nFrom: Bob\nSent: Monday\nSubject: s\n\nold")
    assert (new, quoted) == ("ok", "From: Bob\nSent: Monday\nSubject: s\n\nold")
    new, quoted, _ = split_reply("see below\n---------- Forwarded message ----------\nold")
    assert new == "see below" and quoted.endswith("old")
    new, quoted, _ = split_reply("fyi\n\nBegin forwarded message:\n\nold")
    assert new == "fyi" and quoted.startswith("Begin forwarded message:")


def test_inline_quotes_are_moved_out_of_the_new_text():
    new, quoted, _ = split_reply("> question one?\nanswer one\n> question two?\nanswer two")
    assert new == "answer one\nanswer two"
    assert quoted == "> question one?\n> question two?"


def test_signature_after_delimiter():
    new, quoted, signature = split_reply(
        "Thanks.\n-- \nJane Doe\n555-0100\n\nOn Monday, Bob wrote:\n> hi")
    assert (new, signature) == ("Thanks.", "Jane Doe\n555-0100")
    assert quoted == "On Monday, Bob wrote:\n> hi"


def test_long_tail_after_delimiter_is_not_a_signature():
    text = "Intro\n--\n" + "\n".join("line %d" % n for n in range(40))
    assert split_reply(text) == (text, "", None)
