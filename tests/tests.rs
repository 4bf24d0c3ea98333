mod placeholder_until_engine_lands {}
