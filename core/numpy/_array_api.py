"""Array API standard support: ``__array_namespace_info__`` and version."""

__all__: list[str] = []
