from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    label = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.label


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, null=True)
    tags = models.ManyToManyField(Tag, blank=True)

    def __str__(self) -> str:
        return self.title


class ExplodingRepr(models.Model):
    """A model whose repr/str would fail (or query) if the tracer ever called them."""

    name = models.CharField(max_length=50)

    def __repr__(self) -> str:
        raise RuntimeError("repr must not be called by the tracer")

    def __str__(self) -> str:
        raise RuntimeError("str must not be called by the tracer")
