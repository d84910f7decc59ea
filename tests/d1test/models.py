"""Models that exercise the D1 backend: joins, cascades, every common field type."""

import uuid

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    age = models.IntegerField(default=0)
    score = models.FloatField(default=0.0)
    active = models.BooleanField(default=True)
    joined = models.DateTimeField(null=True)
    birthday = models.DateField(null=True)
    wakes = models.TimeField(null=True)
    balance = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    ref = models.UUIDField(default=uuid.uuid4)
    avatar = models.BinaryField(null=True)
    big = models.BigIntegerField(default=0)
    data = models.JSONField(default=dict)
    snowflake = models.CharField(max_length=20, blank=True)
    nap = models.DurationField(null=True)


class Book(models.Model):
    id = models.CharField(primary_key=True, max_length=26)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=200)
    pages = models.IntegerField(default=0)
    published = models.DateTimeField(null=True)


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    stars = models.IntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(stars__gte=1), name="stars_positive")]
