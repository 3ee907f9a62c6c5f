from __future__ import annotations

from django import forms

from kitchen.models import Size, Topping


class PizzaForm(forms.Form):
    size = forms.ChoiceField(choices=Size.choices, initial=Size.MEDIUM, widget=forms.RadioSelect)
    toppings = forms.ModelMultipleChoiceField(
        queryset=Topping.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
