"""Using a trained run: classify new inputs with its model.keras."""
