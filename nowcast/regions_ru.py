"""Every federal subject of Russia: ISO 3166-2:RU code, English name, and the Russian name as
Rosstat writes it in its regional tables (the column headers of ``ELECTR_VOL_MLN_KWT.csv``).

Importing this module registers all of them with ``nowcast.regions.register`` (mining=False);
subjects already listed in ``nowcast.regions`` keep their entry there (and their mining flag),
so registering is idempotent and only adds what is missing.

Notes on the table:

- Rosstat's ``Архангельская область`` and ``Тюменская область`` include their autonomous okrugs
  (Nenets; Khanty-Mansi and Yamalo-Nenets), which are also federal subjects with their own
  columns: do not sum RU-ARK with RU-NEN, or RU-TYU with RU-KHM and RU-YAN. The composites
  "... без авт. округа/округов" (the oblast without its okrugs) have no code and are not here.
- Republic of Crimea and Sevastopol are not in ISO 3166-2:RU (ISO lists the territories as
  UA-43 and UA-40). They get the non-ISO codes ``RU-CR`` and ``RU-SEV`` so that Rosstat's
  columns map to a code; the model treats them like any other non-mining region.
"""

from __future__ import annotations

from nowcast.regions import Region, register

# (ISO 3166-2:RU code, English name, Russian name as in Rosstat's header)
SUBJECTS: tuple[tuple[str, str, str], ...] = (
    # Central federal district
    ("RU-BEL", "Belgorod oblast", "Белгородская область"),
    ("RU-BRY", "Bryansk oblast", "Брянская область"),
    ("RU-VLA", "Vladimir oblast", "Владимирская область"),
    ("RU-VOR", "Voronezh oblast", "Воронежская область"),
    ("RU-IVA", "Ivanovo oblast", "Ивановская область"),
    ("RU-KLU", "Kaluga oblast", "Калужская область"),
    ("RU-KOS", "Kostroma oblast", "Костромская область"),
    ("RU-KRS", "Kursk oblast", "Курская область"),
    ("RU-LIP", "Lipetsk oblast", "Липецкая область"),
    ("RU-MOS", "Moscow oblast", "Московская область"),
    ("RU-ORL", "Oryol oblast", "Орловская область"),
    ("RU-RYA", "Ryazan oblast", "Рязанская область"),
    ("RU-SMO", "Smolensk oblast", "Смоленская область"),
    ("RU-TAM", "Tambov oblast", "Тамбовская область"),
    ("RU-TVE", "Tver oblast", "Тверская область"),
    ("RU-TUL", "Tula oblast", "Тульская область"),
    ("RU-YAR", "Yaroslavl oblast", "Ярославская область"),
    ("RU-MOW", "Moscow (city)", "г. Москва"),
    # North-Western federal district
    ("RU-KR", "Republic of Karelia", "Республика Карелия"),
    ("RU-KO", "Komi Republic", "Республика Коми"),
    ("RU-ARK", "Arkhangelsk oblast", "Архангельская область"),
    ("RU-NEN", "Nenets autonomous okrug", "Ненецкий авт. округ"),
    ("RU-VLG", "Vologda oblast", "Вологодская область"),
    ("RU-KGD", "Kaliningrad oblast", "Калининградская область"),
    ("RU-LEN", "Leningrad oblast", "Ленинградская область"),
    ("RU-MUR", "Murmansk oblast", "Мурманская область"),
    ("RU-NGR", "Novgorod oblast", "Новгородская область"),
    ("RU-PSK", "Pskov oblast", "Псковская область"),
    ("RU-SPE", "Saint Petersburg (city)", "г. Санкт-Петербург"),
    # Southern federal district
    ("RU-AD", "Republic of Adygea", "Республика Адыгея"),
    ("RU-KL", "Republic of Kalmykia", "Республика Калмыкия"),
    ("RU-KDA", "Krasnodar krai", "Краснодарский край"),
    ("RU-AST", "Astrakhan oblast", "Астраханская область"),
    ("RU-VGG", "Volgograd oblast", "Волгоградская область"),
    ("RU-ROS", "Rostov oblast", "Ростовская область"),
    ("RU-CR", "Republic of Crimea (not in ISO 3166-2:RU)", "Республика Крым"),
    ("RU-SEV", "Sevastopol (not in ISO 3166-2:RU)", "г. Севастополь"),
    # North Caucasian federal district
    ("RU-DA", "Republic of Dagestan", "Республика Дагестан"),
    ("RU-IN", "Republic of Ingushetia", "Республика Ингушетия"),
    ("RU-KB", "Kabardino-Balkar Republic", "Кабардино-Балкарская Республика"),
    ("RU-KC", "Karachay-Cherkess Republic", "Карачаево-Черкесская Республика"),
    ("RU-SE", "Republic of North Ossetia-Alania", "Республика Северная Осетия - Алания"),
    ("RU-CE", "Chechen Republic", "Чеченская Республика"),
    ("RU-STA", "Stavropol krai", "Ставропольский край"),
    # Volga federal district
    ("RU-BA", "Republic of Bashkortostan", "Республика Башкортостан"),
    ("RU-ME", "Mari El Republic", "Республика Марий Эл"),
    ("RU-MO", "Republic of Mordovia", "Республика Мордовия"),
    ("RU-TA", "Republic of Tatarstan", "Республика Татарстан"),
    ("RU-UD", "Udmurt Republic", "Удмуртская Республика"),
    ("RU-CU", "Chuvash Republic", "Чувашская Республика"),
    ("RU-PER", "Perm krai", "Пермский край"),
    ("RU-KIR", "Kirov oblast", "Кировская область"),
    ("RU-NIZ", "Nizhny Novgorod oblast", "Нижегородская область"),
    ("RU-ORE", "Orenburg oblast", "Оренбургская область"),
    ("RU-PNZ", "Penza oblast", "Пензенская область"),
    ("RU-SAM", "Samara oblast", "Самарская область"),
    ("RU-SAR", "Saratov oblast", "Саратовская область"),
    ("RU-ULY", "Ulyanovsk oblast", "Ульяновская область"),
    # Ural federal district
    ("RU-KGN", "Kurgan oblast", "Курганская область"),
    ("RU-SVE", "Sverdlovsk oblast", "Свердловская область"),
    ("RU-TYU", "Tyumen oblast", "Тюменская область"),
    ("RU-KHM", "Khanty-Mansi autonomous okrug - Yugra", "Ханты-Мансийский авт. округ - Югра"),
    ("RU-YAN", "Yamalo-Nenets autonomous okrug", "Ямало-Ненецкий авт. округ"),
    ("RU-CHE", "Chelyabinsk oblast", "Челябинская область"),
    # Siberian federal district
    ("RU-AL", "Altai Republic", "Республика Алтай"),
    ("RU-BU", "Republic of Buryatia", "Республика Бурятия"),
    ("RU-TY", "Tuva Republic", "Республика Тыва"),
    ("RU-KK", "Republic of Khakassia", "Республика Хакасия"),
    ("RU-ALT", "Altai krai", "Алтайский край"),
    ("RU-ZAB", "Zabaykalsky krai", "Забайкальский край"),
    ("RU-KYA", "Krasnoyarsk krai", "Красноярский край"),
    ("RU-IRK", "Irkutsk oblast", "Иркутская область"),
    ("RU-KEM", "Kemerovo oblast", "Кемеровская область"),
    ("RU-NVS", "Novosibirsk oblast", "Новосибирская область"),
    ("RU-OMS", "Omsk oblast", "Омская область"),
    ("RU-TOM", "Tomsk oblast", "Томская область"),
    # Far Eastern federal district
    ("RU-SA", "Sakha Republic (Yakutia)", "Республика Саха (Якутия)"),
    ("RU-KAM", "Kamchatka krai", "Камчатский край"),
    ("RU-PRI", "Primorsky krai", "Приморский край"),
    ("RU-KHA", "Khabarovsk krai", "Хабаровский край"),
    ("RU-AMU", "Amur oblast", "Амурская область"),
    ("RU-MAG", "Magadan oblast", "Магаданская область"),
    ("RU-SAK", "Sakhalin oblast", "Сахалинская область"),
    ("RU-YEV", "Jewish autonomous oblast", "Еврейская авт. область"),
    ("RU-CHU", "Chukotka autonomous okrug", "Чукотский авт. округ"),
)

BY_RUSSIAN_NAME: dict[str, str] = {russian: code for code, _, russian in SUBJECTS}

for _code, _english, _russian in SUBJECTS:
    register(Region(_code, _english, mining=False, aliases=(_russian,)))
