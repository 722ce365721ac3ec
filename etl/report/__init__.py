"""The commissioner's monthly pack: content from the warehouse, rendering, delivery.

Modules, in the order a pack is made:

* :mod:`etl.report.config` - the plan's targets, the audiences, alert
  recipients (``pack.yml``, or the file ``CSC_PACK_CONFIG`` names);
* :mod:`etl.kpis` (outside this package) - how each measure is named and defined
  (``etl/kpis.yml``, the one registry of measures);
* :mod:`etl.report.content` - the month's measures, their history, the load
  records and a few aggregates, read from the warehouse;
* :mod:`etl.report.view`, :mod:`etl.report.tables`, :mod:`etl.report.appendix`
  and :mod:`etl.report.figures` - what one audience's copy shows, formatted,
  suppressed and rated against the plan;
* :mod:`etl.report.charts` and :mod:`etl.report.render` - PNG trend charts,
  HTML (CSS inlined) and plain text from the templates in ``reports/``;
* :mod:`etl.report.archive` - the pack and ``kpis.csv`` under ``CSC_REPORTS_DIR``;
* :mod:`etl.report.message`, :mod:`etl.report.delivery` and
  :mod:`etl.report.deliveries` - the e-mail, how it goes (SMTP or the
  outbox), and the record of what went;
* :mod:`etl.report.publish` - the entry point: render, archive, send once.
"""
