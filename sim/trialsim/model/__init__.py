"""The compiled plan, the random draws and the SimPy model of one trial."""
