"""The evaluation suite: the question set drawn from the seed articles, and the benchmark.

    eval/questions.jsonl   the question set (format and checks: eval.questions)
    eval/thresholds.json   the gate's floors and ceilings (eval.gate)
    eval.app.run_eval      the benchmark end to end (`rag eval`, `python -m eval`)

Modules: questions (load/validate), runner (in-process or HTTP), metrics (primitives), scoring
(per question, per group), report (JSON + Markdown), plots, beir, compare, gate. See eval/README.md.
"""
