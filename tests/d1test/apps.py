from django.apps import AppConfig


class D1TestConfig(AppConfig):
    name = "tests.d1test"
    label = "d1test"
    default_auto_field = "django.db.models.AutoField"
