"""The member page's forms: the session form with the summary editor, and the tasks formset.

Everything here reads nothing from D1 (the member page's one request already brought
the summary and the tasks) and writes through the queue, so a save is one atomic batch.
"""

from __future__ import annotations

from django import forms
from django.db import connections
from django.db.models import sql
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from coachbot.d1 import queue_update
from sessions_app.models import Session, Task

SUMMARY_MAX = 1500
# The member's fields a coach may change (the rest is the bot's bookkeeping).
EDITABLE = [
    "coach_user_id", "status", "status_reason", "locale", "timezone", "snoozed_until", "paused_until",
    "work_start", "work_end", "work_days", "interval_minutes",
]


class SessionForm(forms.ModelForm):
    summary_text = forms.CharField(
        label=_("summary"), required=False, max_length=SUMMARY_MAX,
        widget=forms.Textarea(attrs={"rows": 8, "class": "cb-summary-editor"}),
        help_text=_("What the coach builds on: the story so far, in at most 1,500 characters. "
                    "Saving publishes it to the bot's cache."),
    )
    summary_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Session
        fields = EDITABLE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        page = getattr(self.instance, "admin_page", None)
        if page is not None:
            self.fields["summary_text"].initial = page.summary.summary if page.summary else ""
            self.fields["summary_version"].initial = page.summary_version

    def clean_summary_version(self):
        seen = self.cleaned_data.get("summary_version") or 0
        page = getattr(self.instance, "admin_page", None)
        if page is not None and "summary_text" in self.changed_data and seen != page.summary_version:
            raise forms.ValidationError(
                _("The summary changed while you were editing it (the coach bot or another coach "
                  "saved version %(version)d). Copy your text, reload and edit again."),
                params={"version": page.summary_version}, code="stale",
            )
        return seen

    def clean(self):
        data = super().clean()
        # The stale check needs summary_text's changed state, so surface it on the editor.
        if "summary_version" in self.errors:
            self.add_error("summary_text", self.errors.pop("summary_version"))
        return data


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = ["title", "status", "blocker"]
        widgets = {"blocker": forms.TextInput(attrs={"size": 40})}

    def validate_unique(self):
        """Task keys are app-made ULIDs and D1 enforces them: no SELECT per row."""


class _PrefetchedTask(forms.Field):
    """The hidden task id of a formset row, resolved from the tasks already read."""

    widget = forms.HiddenInput

    def __init__(self, objects: dict, **kwargs):
        self.objects = objects
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.objects[value]
        except KeyError:
            raise forms.ValidationError(_("This task no longer exists."), code="invalid_choice") from None

    def prepare_value(self, value):
        return getattr(value, "pk", value)


class TaskFormSet(BaseInlineFormSet):
    """Tasks from the member page's one request; saves queued into the page's atomic batch."""

    def get_queryset(self):
        page = getattr(self.instance, "admin_page", None)
        return page.tasks if page is not None else super().get_queryset()

    def add_fields(self, form, index):
        super().add_fields(form, index)
        objects = {task.pk: task for task in self.get_queryset()}
        initial = form.fields["id"].initial
        form.fields["id"] = _PrefetchedTask(objects, initial=initial)

    def save_new(self, form, commit=True):
        task = form.save(commit=False)
        task.session = self.instance
        if commit:
            Task.objects.bulk_create([task])
        return task

    def save_existing(self, form, obj, commit=True):
        now = timezone.now()
        changes = {name: getattr(obj, name) for name in form.changed_data if name in form._meta.fields}
        if "status" in changes:
            changes["done_at"] = now if obj.status == Task.Status.DONE else None
        if commit and changes:
            queue_update(Task.objects.filter(pk=obj.pk), updated_at=now, **changes)
        return obj

    def delete_existing(self, obj, commit=True):
        if commit:
            queue_delete(Task.objects.filter(pk=obj.pk))


def queue_delete(queryset) -> None:
    """``queryset.delete()`` without reading the row count back (see ``queue_update``)."""
    query = queryset.query.chain(sql.DeleteQuery)
    statement, params = query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(statement, params)
