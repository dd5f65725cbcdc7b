"""One module per view of the app; each function is a plain handler the layout wires to widgets."""
