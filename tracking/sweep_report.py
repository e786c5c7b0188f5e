"""The sweep run's report (:class:`~tracking.report.ReportDraft`), handed between the end of
the search and the end of the sweep.

Its plots need only the trials, so they are drawn on the writer as soon as no trial runs any
more, while the best model is loaded, tested and logged; summary.md quotes the test metrics,
so the report is logged at the very end. A report that cannot be drawn or written is a
warning, not a failed sweep::

    report = SweepReport(context)
    report.draw_ahead(sweep_run_id)    # the search ended
    report.log(sweep_run_id)           # the sweep run's metrics are logged
    report.discard()                   # the tracker closes, whatever happened
"""

from __future__ import annotations

from tracking.context import TrackerContext, log
from tracking.queries import load_sweep
from tracking.report import ReportDraft
from tracking.store import is_unavailable

__all__ = ["SweepReport"]


class SweepReport:
    """The report of one sweep run: drawn ahead when it may be, logged at the end."""

    def __init__(self, context: TrackerContext) -> None:
        self.context = context
        self._draft: ReportDraft | None = None  # drawn ahead by draw_ahead

    def draw_ahead(self, run_id: str) -> None:
        """Draw the report's plots on the writer, beside the caller's work (where pyplot may
        draw off the main thread)."""
        if ReportDraft.off_main_thread_ok():
            self._draft = ReportDraft()
            self.context.writer.submit(self._draw, self._draft, run_id)

    def _draw(self, report: ReportDraft, run_id: str) -> None:
        client = self.context.client
        try:
            # Read back from the store, like `sweeps compare`: every worker's trials count.
            report.draw_plots(load_sweep(client, client.get_run(run_id)),
                              self.context.renderer)
        except Exception as exc:  # a report is not worth failing a finished sweep
            if is_unavailable(exc):
                raise
            log.warning("could not draw the sweep report's plots", exc_info=True)

    def log(self, run_id: str) -> None:
        """Log the report as the run's ``report/`` artifacts (drawing its plots now if they
        were not drawn ahead)."""
        client = self.context.client
        report, self._draft = self._draft, None
        try:
            if report is None or report.sweep is None:  # not drawn ahead (or that failed)
                report = report or ReportDraft()
                report.draw_plots(load_sweep(client, client.get_run(run_id)),
                                  self.context.renderer)
            report.log(client, client.get_run(run_id))
        except Exception as exc:  # a report is not worth failing a finished sweep
            if is_unavailable(exc):
                raise
            log.warning("could not write the sweep report", exc_info=True)
        finally:
            if report is not None:
                report.discard()

    def discard(self) -> None:
        """Remove a report drawn for a sweep that did not reach its end."""
        if self._draft is not None:
            self._draft.discard()
            self._draft = None
