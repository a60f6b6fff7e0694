"""Live figures and reports: rows of the stats API and the wall display's feed, from the engine's Figures."""
