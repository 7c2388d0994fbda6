"""Export: strips and grids as publication figures, with their preview and dialog."""
