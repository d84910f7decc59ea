from django.urls import path

from discord_app import views

app_name = "discord"

urlpatterns = [
    # Both spellings, so neither Discord nor a person pasting the URL meets a redirect.
    path("interactions", views.interactions, name="interactions"),
    path("interactions/", views.interactions),
]
