"""nbgrader configuration of the book as a course (README, "Instructors").

Run nbgrader from this directory: `nbgrader generate_assignment ch02`, `nbgrader autograde ch02`,
`nbgrader generate_feedback ch02`. `make release` releases every chapter at once.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "course"))

from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,  # noqa: E402
                                    ClearSolutions, ComputeChecksums, IncludeHeaderFooter,
                                    InstantiateTests, LockCells, SaveCells)
from ssl_course import ClearExerciseOutputs  # noqa: E402

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.CourseDirectory.root = str(HERE / "course")
c.CourseDirectory.course_id = "ssl-from-scratch"
# Autograding re-runs whole chapters; chapter 02 trains its transformer in one ~30 s cell, more
# than nbgrader's default 30 s per cell on a slow or busy machine.
c.Execute.timeout = 600
# Students keep the chapter's outputs above the exercises; everything from the first exercise on
# (and the widget state only those outputs used) is cleared: nbgrader's ClearOutput replaced.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, ClearExerciseOutputs,
    CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme,
    ComputeChecksums, CheckCellMetadata,
]
