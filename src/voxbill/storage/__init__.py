"""Adapters to the database: schema, migrations, repositories, transactions."""
