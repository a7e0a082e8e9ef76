"""Reading runs back: diagnosis and plots."""
