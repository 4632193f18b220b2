// The itinerary the summarizer's textarea starts with: a long, realistic multi-day plan.

export const SAMPLE_ITINERARY = `Day 1 — Lisbon
Land at Humberto Delgado airport around noon and take the metro's red line into the city. Check in at the guesthouse in Alfama, two streets below the castle. Drop the bags and walk up to the Miradouro de Santa Luzia for the first view over the river. Dinner is booked at 20:30 at a small fado house on Rua de São Pedro; bring cash, they don't take cards.

Day 2 — Belém and the riverside
Catch tram 15 from Praça da Figueira to Belém right after breakfast to beat the queues. The Jerónimos Monastery opens at 9:30 and tickets must be bought online the day before. Walk along the river to the Tower of Belém and the Monument to the Discoveries. Have a pastel de nata at the original bakery, even if the line looks long. In the afternoon the MAAT museum is worth an hour if it rains. Back in town, watch the sunset from the Miradouro da Senhora do Monte.

Day 3 — Sintra day trip
The train to Sintra leaves Rossio station every twenty minutes and takes about forty minutes. Go to Pena Palace first, because it is the busiest by late morning, and reserve the 10:00 entry slot. The Moorish Castle is a short, steep hike from Pena; wear proper shoes. Quinta da Regaleira and its initiation well are the highlight for most people, so keep at least two hours for it. Take the last train back before 21:00.

Day 4 — Porto
Take the 8:39 Alfa Pendular train from Santa Apolónia to Porto Campanhã; seats are reserved and the ride takes three hours. Leave the luggage at the hotel near Aliados and walk down to the Ribeira waterfront. Cross the Dom Luís I bridge on the upper deck for the views, then tour a port cellar in Vila Nova de Gaia. The Livraria Lello bookshop needs a timed ticket and is busiest after lunch.

Day 5 — Douro Valley and home
A small-group tour to the Douro Valley picks us up at 8:00 and includes two wine tastings and a river cruise. Lunch is included at a quinta above Pinhão. The tour returns to Porto around 19:00, so pack the night before. The flight home leaves the next morning at 7:15, which means a taxi at 5:00; remember to check in online.`;
