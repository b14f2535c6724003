from unigap.verdict import QUESTION_TEMPLATE, full_question, parse_verdict, question


def test_question_is_the_papers_text_with_prompt_inserted():
    q = question("a red circle")
    assert q == (
        "Does this image describe a red circle? If it describes the scene, score 1; if it does not fully "
        "describe, score 0. Please answer in the following format: The score is {your score}."
    )
    assert full_question("x").startswith("You are a helpful language and vision assistant.")
    assert "{prompt}" in QUESTION_TEMPLATE


def test_parser_on_real_looking_answers():
    assert parse_verdict("The score is 1.") == 1
    assert parse_verdict("The image shows a red circle on black. The score is 0.") == 0
    assert parse_verdict("the score is  1") == 1
    # Show-o style answers do not follow the format: leading Yes/No
    assert parse_verdict("Yes, the image depicts a red circle.") == 1
    assert parse_verdict("No, this image does not depict a dog.") == 0
    assert parse_verdict("  yes") == 1
    # no verdict: unparsed, never a silent rejection
    assert parse_verdict("I am not sure what this image shows.") is None
    assert parse_verdict("") is None
    assert parse_verdict("Yesterday I saw a circle") is None
    assert parse_verdict("The score is 5") is None


def test_judgment_from_answer_keeps_raw_and_marks_unparsed():
    from unigap.verdict import judgment_from_answer

    ok = judgment_from_answer("The score is 0.")
    assert (ok.verdict, ok.prob, ok.raw, ok.status) == (0, None, "The score is 0.", "ok")
    bad = judgment_from_answer("I cannot tell.")
    assert (bad.verdict, bad.raw, bad.status) == (None, "I cannot tell.", "unparsed")
