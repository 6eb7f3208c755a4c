"""nbgrader configuration of the book as a course (README, "Instructors").

Run nbgrader from this directory: `nbgrader generate_assignment ch02`, `nbgrader
autograde ch02`, `nbgrader generate_feedback ch02`, `nbgrader export`. `make release`
releases every chapter at once and writes the student bundle; `make formgrader` opens
nbgrader's web interface on this course. Everything nbgrader writes stays under course/
(git-ignored): the gradebook, the exchange folder and the exported grades.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "course"))

# noqa: E402
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)
from guard import GuardSubmission  # noqa: E402

# noqa: E402
from nbgrader.preprocessors import (
    ClearOutput,
    DeduplicateIds,
    OverwriteCells,
    OverwriteKernelspec,
)
from ssl_course import EXECUTE_TIMEOUT, ClearExerciseOutputs  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.CourseDirectory.root = str(HERE / "course")
c.CourseDirectory.course_id = "ssl-from-scratch"
# The gradebook (course/gradebook.db) and the exported grades live in the course
# directory, never at the top of the repository (`nbgrader export` writes
# course/grades.csv).
c.CsvExportPlugin.to = str(HERE / "course" / "grades.csv")
# A course-local exchange (release_assignment / fetch_assignment / submit / collect)
# that only its owner can enter: nbgrader's default is a system-wide folder it makes
# world-writable (0o777). On a shared JupyterHub, replace both lines by the hub's
# exchange (nbgrader docs, "Exchange").
c.Exchange.root = str(HERE / "course" / "exchange")
c.ExchangeFactory.release_assignment = "ssl_course.OwnerOnlyReleaseAssignment"
# Autograding re-runs whole chapters; a chapter whose store is empty trains in one cell
# for minutes, far beyond nbgrader's default 30 s per cell. Students' `nbgrader
# validate` uses the same limit (the bundle's nbgrader_config.py is written from the
# same constant).
c.Execute.timeout = EXECUTE_TIMEOUT
# Students keep the chapter's outputs above the exercises; everything from the first
# exercise on (and the widget state only those outputs used) is cleared: nbgrader's
# ClearOutput replaced.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutions,
    ClearExerciseOutputs,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]
# Autograding: nbgrader's sanitizing steps, plus course/guard.py right after the locked
# cells are restored: tampering (rebinding np.isclose, a helper the hidden tests use,
# ...) or a helper the prompt forbids scores 0, with the reason in the feedback.
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    GuardSubmission,
    CheckCellMetadata,
]
