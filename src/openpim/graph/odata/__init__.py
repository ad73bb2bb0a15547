"""The OData query subset the Graph-compatible API understands, parsed into plain values.

Everything outside the subset is refused with an ODataError (a Graph-shaped 400), never ignored:
a client that asks for `$orderby` and silently gets another order would draw wrong conclusions.

- query_options: the options of one request ($filter, $select, $expand, $top, $count,
  $skiptoken) and which of them an endpoint takes
- filter_parser: $filter text -> filter_tree (tokeniser, grammar, limits)
- filter_tree: the parsed $filter (comparisons joined by and / or) and its canonical text
- select_expand: $select and $expand, nested up to three levels
- errors: ODataError

Running a parsed query (SQL, in-memory filtering, keyset pages) is openpim.graph.query.
"""
