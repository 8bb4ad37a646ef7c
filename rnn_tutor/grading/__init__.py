"""``rnn-tutor grade``: score submitted exercise notebooks (see ``docs/grading.md``).

Modules, in the order a submission meets them:

* :mod:`~rnn_tutor.grading.match`    find submissions, read them safely, match each to its source
* :mod:`~rnn_tutor.grading.restore`  rebuild the notebook from the source and the learner's answers
* :mod:`~rnn_tutor.grading.execute`  run code in a fresh, resource-limited kernel
* :mod:`~rnn_tutor.grading.serial`   safe (JSON, never pickle) values between grader and kernel
* :mod:`~rnn_tutor.grading.score`    call the learner's functions on fresh inputs, judge them here
* :mod:`~rnn_tutor.grading.grade`    grade one submission: rows of (task, points, status, reason)
* :mod:`~rnn_tutor.grading.report`   CSV (formula-safe), JSON and the terminal summary
* :mod:`~rnn_tutor.grading.cli`      the command line, with parallel jobs and progress

This package's ``__init__`` imports nothing: the kernel imports
:mod:`rnn_tutor.grading.serial` and must not pay for the grader's dependencies.
"""
