"""``{% coach_dashboard %}``: the members needing attention, on the admin index."""

from django import template

from sessions_app.admin.dashboard import attention

register = template.Library()


@register.inclusion_tag("admin/sessions_app/dashboard.html", takes_context=True)
def coach_dashboard(context):
    request = context["request"]
    return {"attention": attention(request.user), "user": request.user, "request": request}
