"""The compatibility suite (issue 23): the official clients (Python SDK, tccli, Node.js SDK),
each configured as its users do, run one scenario against a real ``animgraph api``."""
