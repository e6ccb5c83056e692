from eval.calibrate import fit_threshold, rates


def test_the_threshold_keeps_false_abstentions_within_the_bound_and_maximises_recall() -> None:
    answerable = [(True, c) for c in (0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.42, 0.41, 0.40)]
    unanswerable = [(False, c) for c in (0.3, 0.35, 0.405, 0.44, 0.5, 0.7)]
    points = answerable + unanswerable

    loose = fit_threshold(points, max_false_abstention=0.1)
    assert loose == 0.41  # declines the 0.40 answerable to catch the 0.405 unanswerable
    assert rates(points, loose) == {"false_abstention_rate": 0.1, "abstention_recall": 0.5}

    strict = fit_threshold(points, max_false_abstention=0.0)
    assert strict == 0.4
    assert rates(points, strict) == {"false_abstention_rate": 0.0, "abstention_recall": 2 / 6}


def test_questions_declined_whatever_the_threshold_spend_the_budget_first() -> None:
    # -inf: the composer declined for another reason (e.g. no number for a "how many" question).
    answerable = [(True, float("-inf"))] + [(True, c) for c in (0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.42, 0.41)]
    unanswerable = [(False, float("-inf")), (False, 0.415), (False, 0.3)]
    points = answerable + unanswerable

    threshold = fit_threshold(points, max_false_abstention=0.1)
    assert threshold == 0.41  # finite; catching the 0.415 would cost a second false abstention (0.41)
    assert rates(points, threshold) == {"false_abstention_rate": 0.1, "abstention_recall": 2 / 3}
