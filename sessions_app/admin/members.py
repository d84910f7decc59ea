"""The members admin: the list, the member page, its actions and side views.

D1 requests per page, whatever the number of rows (see tests/admin): the list 1,
the member page 1 (+1 KV read), a save 2 (the page's read, then one atomic batch),
a status action 3 (the list, the selection, one atomic batch). A save or an action
that changed members then writes their KV entries in one bulk call, after the commit.
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from coachbot.d1 import fetch_many, queue_update
from coachbot.d1.errors import ConflictError
from sessions_app import dispatch, publish
from sessions_app.coach import get_coach, parse_report
from sessions_app.coaching import build_context, load_context
from sessions_app.ids import new_id
from sessions_app.models import Message, Session, Summary, Task

from . import display, roles
from .export import export_response
from .filters import BlockedFilter, CoachFilter, StatusFilter, UnansweredFilter
from .forms import EDITABLE, SessionForm, TaskForm, TaskFormSet
from .pages import fetch_list_page, fetch_member_page, id_list

D1 = "d1"
LOG_VAR = "log"


class MemberChangeList(ChangeList):
    """The page, its total (a window count) and the rows' aggregates in one D1 request."""

    def get_results(self, request):
        if self.page_num < 1:
            raise IncorrectLookupParameters
        per_page = self.list_per_page
        page = fetch_list_page(self.queryset, (self.page_num - 1) * per_page, per_page, timezone.now())
        if page.total is None and self.page_num > 1:
            raise IncorrectLookupParameters
        total = page.total or 0
        self.paginator = Paginator(range(total), per_page)
        self.result_count = total
        # Unfiltered, the page's window count IS the full count: no query, no "Show all" link.
        self.full_result_count = None if (self.has_active_filters or self.query) else total
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.result_list = page.rows
        self.can_show_all = False
        self.multi_page = total > per_page


class TaskInline(admin.TabularInline):
    model = Task
    form = TaskForm
    formset = TaskFormSet
    extra = 1
    fields = ["title", "status", "blocker"]
    verbose_name = gettext_lazy("task")
    verbose_name_plural = gettext_lazy("tasks")

    def has_view_permission(self, request, obj=None):
        return roles.is_coach(request.user)

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    form = SessionForm
    inlines = [TaskInline]
    change_form_template = "admin/sessions_app/session/member.html"
    change_list_template = "admin/sessions_app/session/members.html"
    list_display = ["name", "status_column", "last_report", "unanswered_column", "next_checkin",
                    "open_tasks", "participation"]
    list_display_links = ["name"]
    search_fields = ["display_name", "=user_id"]
    search_help_text = gettext_lazy("Search by name, or by Discord user id (exact).")
    ordering = ["display_name", "id"]
    list_per_page = 50
    list_max_show_all = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would be one more COUNT per filter
    actions = ["send_checkin_now", "pause", "resume", "stop", "mark_reachable", "export_csv"]
    readonly_fields = ["display_name", "user_id", "platform", "created_at", "last_prompt_at",
                       "last_reply_at", "unanswered", "coach_name"]

    # -- who sees what ----------------------------------------------------------------
    def get_queryset(self, request):
        return roles.scope(super().get_queryset(request), request.user)

    def has_module_permission(self, request):
        return roles.is_coach(request.user)

    def has_view_permission(self, request, obj=None):
        return roles.is_coach(request.user) and (obj is None or roles.may_see(request.user, obj))

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return False  # members opt in from Discord

    def has_delete_permission(self, request, obj=None):
        return False  # stopping keeps the history; deleting is not a coach's job

    def get_list_filter(self, request):
        filters = [StatusFilter, UnansweredFilter, BlockedFilter]
        return [StatusFilter, CoachFilter, *filters[1:]] if request.user.is_superuser else filters

    def get_list_display(self, request):
        columns = list(self.list_display)
        if request.user.is_superuser:
            columns.insert(2, "coach_column")
        return columns

    def get_changelist(self, request, **kwargs):
        return MemberChangeList

    def changelist_view(self, request, extra_context=None):
        request._coach_names = roles.coach_names() if request.user.is_superuser else {}
        return super().changelist_view(request, extra_context)

    # -- the list's columns ------------------------------------------------------------
    @admin.display(description=gettext_lazy("member"), ordering="display_name")
    def name(self, obj):
        return format_html('{}<br><span class="cb-muted">{}</span>', obj.display_name or "—", obj.user_id)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_column(self, obj):
        return display.status_badge(obj, timezone.now())

    @admin.display(description=gettext_lazy("coach"), ordering="coach_user_id")
    def coach_column(self, obj):
        return self._coach_label(obj, getattr(self, "_names", None))

    @admin.display(description=gettext_lazy("last report"), ordering="last_reply_at")
    def last_report(self, obj):
        return display.ago(obj.last_reply_at, timezone.now())

    @admin.display(description=gettext_lazy("unanswered"), ordering="unanswered")
    def unanswered_column(self, obj):
        css = "cb-warn" if obj.unanswered >= 3 else ""
        return format_html('<span class="{}">{}</span>', css, obj.unanswered)

    @admin.display(description=gettext_lazy("next check-in"))
    def next_checkin(self, obj):
        return display.next_checkin(obj, timezone.now())

    @admin.display(description=gettext_lazy("open tasks"))
    def open_tasks(self, obj):
        count = getattr(obj, "open_tasks", 0)
        blocked = getattr(obj, "blocked_tasks", 0)
        if blocked:
            return format_html('{} <span class="cb-badge cb-blocked">{}</span>', count,
                               _("%(n)d blocked") % {"n": blocked})
        return count

    @admin.display(description=gettext_lazy("14 days"))
    def participation(self, obj):
        return display.sparkline(obj.participation)

    @admin.display(description=gettext_lazy("coach"))
    def coach_name(self, obj):
        return self._coach_label(obj, None)

    def _coach_label(self, obj, names):
        if obj.coach_user_id is None:
            return format_html('<span class="cb-badge cb-unassigned">{}</span>', _("no coach yet"))
        names = names if names is not None else roles.coach_names()
        return names.get(obj.coach_user_id, f"#{obj.coach_user_id}")

    def get_changelist_instance(self, request):
        self._names = getattr(request, "_coach_names", None)
        return super().get_changelist_instance(request)

    # -- the member page -----------------------------------------------------------------
    def get_object(self, request, object_id, from_field=None):
        """The member and all the page shows, in one request; 404 when not this coach's."""
        cached = getattr(request, "_member_page", None)
        if cached is not None and cached.session.pk == object_id:
            return cached.session
        try:
            log_page = int(request.GET.get(LOG_VAR, 1))
        except ValueError:
            log_page = 1
        page = fetch_member_page(self.get_queryset(request), object_id, log_page, timezone.now())
        if page is None:
            raise Http404(_("No such member."))
        page.session.admin_page = page
        request._member_page = page
        return page.session

    def get_fieldsets(self, request, obj=None):
        coach = ["coach_user_id"] if request.user.is_superuser else ["coach_name"]
        return [
            (pgettext("member page", "Summary"), {"fields": ["summary_text", "summary_version"]}),
            (_("Member"), {"fields": [("display_name", "user_id"), ("locale", "timezone"), "created_at"]}),
            (_("Coaching"), {"fields": [*coach, "status", "status_reason", ("snoozed_until", "paused_until"),
                                        ("last_prompt_at", "last_reply_at", "unanswered")]}),
            (_("Schedule"), {"fields": [("work_start", "work_end"), "work_days", "interval_minutes"],
                             "classes": ["collapse"]}),
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "coach_user_id":
            choices = [("", _("— no coach yet —")), *roles.coach_names().items()]
            return forms.TypedChoiceField(
                choices=choices, coerce=int, empty_value=None, required=False,
                label=_("coach"), help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        page = obj.admin_page
        now = timezone.now()
        context.update(
            page=page,
            now=now,
            kv=publish.kv_state(obj.pk, page.summary_version),
            status_badge=display.status_badge(obj, now),
            next_checkin=display.next_checkin(obj, now),
            last_report=display.ago(obj.last_reply_at, now),
            sparkline=display.sparkline(page.participation),
            timeline=self._timeline(page),
            open_tasks=sum(1 for t in page.tasks if t.status != Task.Status.DONE),
            blocked_tasks=[t for t in page.tasks if t.status == Task.Status.BLOCKED],
            log_var=LOG_VAR,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _timeline(self, page):
        names = roles.coach_names() if any(m.kind == Message.Kind.NOTE for m in page.log) else {}
        return [
            {"message": m, "author": names.get(m.author_user_id, "") if m.author_user_id else ""}
            for m in page.log
        ]

    def save_model(self, request, obj, form, change):
        """Changed fields and the summary, queued: the whole save is one atomic D1 batch,
        then one KV write once it committed."""
        now = timezone.now()
        changes = {name: getattr(obj, name) for name in form.changed_data if name in EDITABLE}
        if changes:
            queue_update(Session.objects.filter(pk=obj.pk), version=F("version") + 1, updated_at=now, **changes)
        session = _after_update(obj) if changes else obj  # the form already set the new values
        if "summary_text" in form.changed_data:
            summary = self._write_summary(request, obj.admin_page, form.cleaned_data["summary_text"], now)
            transaction.on_commit(
                lambda: publish.publish_member(session.pk, summary=summary, session=session, now=now), using=D1)
        elif changes:
            transaction.on_commit(lambda: publish.publish_sessions([session], now), using=D1)

    def _write_summary(self, request, page, text, now) -> Summary:
        """Queue the coach's summary; returns it as D1 will hold it."""
        version = page.summary_version + 1
        fields = {"summary": text, "edited_by": Summary.Editor.COACH,
                  "editor_user_id": request.user.pk, "updated_at": now}
        # Compare-and-set: if the bot wrote a summary since the page's read, the whole save
        # fails in D1 (nothing applied, nothing published) and changeform_view says so.
        if page.summary is None:
            Summary.objects.bulk_create([Summary(session_id=page.session.pk, version=version, **fields)])
        else:
            queue_update(Summary.objects.filter(pk=page.session.pk, version=page.summary_version),
                         expect_change=True, version=version, **fields)
        return Summary(session_id=page.session.pk, version=version, **fields)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError as exc:
            if request.method != "POST" or not _summary_moved_on(exc):
                raise
            self.message_user(request, _(
                "The summary changed while you were saving (the member just reported). Nothing was "
                "saved: here is the current version; make your edit again."), messages.ERROR)
            return HttpResponseRedirect(request.path)

    # -- side views: preview, note, republish -------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/preview/", wrap(self.preview_view), name="sessions_app_session_preview"),
            path("<path:object_id>/note/", wrap(self.note_view), name="sessions_app_session_note"),
            path("<path:object_id>/republish/", wrap(self.republish_view),
                 name="sessions_app_session_republish"),
            *super().get_urls(),
        ]

    def _require_coach(self, request):
        if not roles.is_coach(request.user):
            raise PermissionDenied

    def _member_url(self, object_id):
        return reverse("admin:sessions_app_session_change", args=[object_id])

    def preview_view(self, request, object_id):
        """The coach's reply to a sample report, for this member, writing nothing: 1 D1 request."""
        self._require_coach(request)
        report_text = request.POST.get("report", "") if request.method == "POST" else ""
        now = timezone.now()
        loaded = load_context(session_id=object_id, now=now)
        if loaded is None or not roles.may_see(request.user, loaded.session):
            raise Http404(_("No such member."))
        reply = None
        report = parse_report(report_text) if report_text.strip() else None
        if report is not None and not report.is_empty:
            reply = get_coach().reply(build_context(loaded, now), report)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "member": loaded.session, "report_text": report_text, "reply": reply,
            "title": _("Preview for %(name)s") % {"name": loaded.session},
            "member_url": self._member_url(object_id),
        }
        template = "admin/sessions_app/session/preview_reply.html"
        if request.headers.get("X-Requested-With") != "fetch":
            template = "admin/sessions_app/session/preview.html"
        return TemplateResponse(request, template, context)

    def note_view(self, request, object_id):
        """A private coach note in the member's conversation: one read, one write."""
        self._require_coach(request)
        if request.method != "POST":
            return HttpResponseRedirect(self._member_url(object_id))
        session = self.get_queryset(request).filter(pk=object_id).only("id", "coach_user_id").first()
        if session is None:
            raise Http404(_("No such member."))
        text = request.POST.get("note", "").strip()
        if text:
            Message.objects.bulk_create([Message(
                id=new_id(), session=session, role=Message.Role.COACH, kind=Message.Kind.NOTE,
                content=text[:4000], author_user_id=request.user.pk, created_at=timezone.now(),
            )])
            messages.success(request, _("Note added. Members never see notes."))
        return HttpResponseRedirect(self._member_url(object_id) + "#timeline")

    def republish_view(self, request, object_id):
        """Copy the member's summary to KV again: one D1 read, one KV write."""
        self._require_coach(request)
        if request.method != "POST":
            return HttpResponseRedirect(self._member_url(object_id))
        sessions, summaries = fetch_many(self.get_queryset(request).filter(pk=object_id)[:1],
                                         Summary.objects.filter(session_id=object_id)[:1])
        if not sessions:
            raise Http404(_("No such member."))
        state = publish.publish_member(object_id, session=sessions[0], summary=summaries[0] if summaries else None)
        if state.state == publish.OFF:
            messages.warning(request, _("KV is not configured: nothing was published."))
        else:
            messages.success(request, _("Published to KV."))
        return HttpResponseRedirect(self._member_url(object_id))

    # -- actions -----------------------------------------------------------------------
    def _chosen(self, request, queryset) -> list[Session]:
        """The selected members, all of them this coach's, or 404 (one read).

        Django's own ``pk__in`` would bind one parameter per id (D1 allows 100 in all);
        the ids travel as one JSON parameter instead.
        """
        if request.POST.get("select_across") == "1":
            return list(queryset)  # Django passes the whole filtered, scoped list
        selected = set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
        rows = list(self.get_queryset(request).filter(pk__in=id_list(sorted(selected))))
        if len(rows) != len(selected):
            raise Http404(_("No such member."))
        return rows

    def _set_status(self, request, queryset, *, allowed, message, **values):
        """One atomic D1 write for the whole selection, then their KV status in one bulk write."""
        rows = [s for s in self._chosen(request, queryset) if s.status in allowed]
        if rows:
            now = timezone.now()
            with transaction.atomic(using=D1):
                queue_update(Session.objects.filter(pk__in=id_list(s.pk for s in rows)), version=F("version") + 1,
                             updated_at=now, **values)
                changed = [_after_update(s, **values) for s in rows]
                transaction.on_commit(lambda: publish.publish_sessions(changed, now), using=D1)
        self.message_user(request, message(len(rows)) if rows else _("No member needed that change."),
                          messages.SUCCESS if rows else messages.WARNING)

    @admin.action(description=gettext_lazy("Send a check-in now"))
    def send_checkin_now(self, request, queryset):
        rows = [s for s in self._chosen(request, queryset) if s.status == Session.Status.ACTIVE]
        if not rows:
            self.message_user(request, _("Only active members get check-ins."), messages.WARNING)
            return
        dispatch.send_now([s.pk for s in rows])
        text = ngettext("Sending a check-in to %(n)d member now (unless they paused or snoozed).",
                        "Sending check-ins to %(n)d members now (unless they paused or snoozed).", len(rows))
        self.message_user(request, text % {"n": len(rows)}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Pause check-ins"))
    def pause(self, request, queryset):
        self._set_status(
            request, queryset, allowed={Session.Status.ACTIVE}, status=Session.Status.PAUSED,
            status_reason="paused by coach", paused_until=None,
            message=lambda n: ngettext("Paused %(n)d member.", "Paused %(n)d members.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Resume check-ins"))
    def resume(self, request, queryset):
        self._set_status(
            request, queryset, allowed={Session.Status.PAUSED}, status=Session.Status.ACTIVE,
            status_reason="", paused_until=None, snoozed_until=None, unanswered=0,
            message=lambda n: ngettext("Resumed %(n)d member.", "Resumed %(n)d members.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Stop check-ins"))
    def stop(self, request, queryset):
        self._set_status(
            request, queryset, allowed={Session.Status.ACTIVE, Session.Status.PAUSED},
            status=Session.Status.STOPPED, status_reason="stopped by coach",
            message=lambda n: ngettext("Stopped %(n)d member.", "Stopped %(n)d members.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Mark reachable again"))
    def mark_reachable(self, request, queryset):
        self._set_status(
            request, queryset, allowed={Session.Status.UNREACHABLE}, status=Session.Status.ACTIVE,
            status_reason="", unanswered=0,
            message=lambda n: ngettext("%(n)d member is reachable again.",
                                       "%(n)d members are reachable again.", n) % {"n": n},
        )

    @admin.action(description=gettext_lazy("Export conversations as CSV"))
    def export_csv(self, request, queryset):
        return export_response([s.pk for s in self._chosen(request, queryset)])


def _after_update(session: Session, **values) -> Session:
    """A copy of ``session`` as the queued UPDATE leaves it (``values``, and the version bumped)."""
    after = copy.copy(session)
    for name, value in values.items():
        setattr(after, name, value)
    after.version += 1
    return after


def _summary_moved_on(exc: IntegrityError) -> bool:
    """The save lost a race with the bot: its compare-and-set, or a summary created meanwhile."""
    return isinstance(exc.__cause__, ConflictError) or "summaries.session_id" in str(exc)
