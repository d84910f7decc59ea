"""Send the coaching data to D1 and keep Django's own tables in the local database.

Every request to D1 spends the Cloudflare API budget, so only the apps whose data
*is* the product live there; auth, admin log, sessions and the task queue stay in
``default`` where they cost nothing.
"""

from django.conf import settings

D1_ALIAS = "d1"


class D1Router:
    def _alias_for(self, app_label: str) -> str:
        return D1_ALIAS if app_label in settings.D1_APPS else "default"

    def db_for_read(self, model, **hints):
        return self._alias_for(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return self._alias_for(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        return self._alias_for(obj1._meta.app_label) == self._alias_for(obj2._meta.app_label)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == self._alias_for(app_label)
