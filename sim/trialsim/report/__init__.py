"""HTML reports, figures and tables drawn from planning's results."""
