"""Graph-to-graph passes before code generation: simplify (DCE, CSE, folding, trivial algebra) and fusion."""
