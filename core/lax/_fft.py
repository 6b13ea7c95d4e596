"""The ``fft`` primitive (complex and real transforms over trailing axes)."""

__all__: list[str] = []
