"""Questions about whole reports: expectations and budgets (check), comparisons, input sizes."""
