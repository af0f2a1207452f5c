"""Grid-wide rules published by RTE (Tempo today; EcoWatt and national consumption as they grow rules)."""
